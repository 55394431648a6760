"""PostgreSQL through SQLAlchemy asyncio: tables, engine, repositories."""
