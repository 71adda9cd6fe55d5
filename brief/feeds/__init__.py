"""The feeds stage: fetch (httpx), parse (feedparser), clean (nh3), store (SQLAlchemy).

``ingest`` and its ``writer`` are the only modules here that use the database (through
``brief.store``); ``fetch`` the only one that talks HTTP; ``parse`` the only one that
imports feedparser. The rest is pure.
"""
