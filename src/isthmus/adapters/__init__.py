"""Adapters: the only place frameworks (FastAPI, SQLAlchemy, Typer, Jinja2, httpx) appear."""
