"""Turn a digest into email and send it: render (pure), message (pure), senders (I/O)."""
