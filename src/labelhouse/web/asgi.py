"""ASGI entry point for uvicorn/gunicorn: ``labelhouse.web.asgi:app`` (settings from env)."""

from labelhouse.web.app import create_app

app = create_app()
