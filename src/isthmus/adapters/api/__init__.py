"""The HTTP API (FastAPI) under ``/api/v1``; the web UI is mounted beside it."""
