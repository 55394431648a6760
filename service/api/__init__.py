"""The HTTP layer: aiohttp application, middlewares, handlers and error mapping."""
