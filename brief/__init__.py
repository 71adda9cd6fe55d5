"""brief: a self-hosted daily news brief email, built from public RSS/Atom feeds."""

__version__ = "0.1.0"
