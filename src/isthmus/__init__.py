"""Isthmus: connect an enterprise's information islands."""

__version__ = "0.1.0"
