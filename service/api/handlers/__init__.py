"""Route handlers, one module per family of endpoints."""
