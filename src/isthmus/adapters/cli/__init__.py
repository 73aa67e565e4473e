"""The ``isthmus`` command line (Typer): thin commands over the services."""
