"""Web pages (Chinese) and the HTTP API of huiqi: ``create_app(source)``."""

from huiqi.web.app import create_app

__all__ = ["create_app"]
