"""The `brief` command line."""

from brief.cli.main import app, main

__all__ = ["app", "main"]
