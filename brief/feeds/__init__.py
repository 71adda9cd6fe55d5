"""The feeds stage: fetch (httpx), parse (feedparser), clean (nh3), store (SQLAlchemy).

``ingest`` is the only module here that does I/O on the database; ``fetch`` the only
one that talks HTTP; ``parse`` the only one that imports feedparser. The rest is pure.
"""
