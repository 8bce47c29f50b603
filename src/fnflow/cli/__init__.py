"""The ``fnflow`` command line."""

from fnflow.cli.main import app, main

__all__ = ["app", "main"]
