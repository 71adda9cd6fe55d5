"""Errors raised by brief.

The tree, so callers can choose what to retry::

    BriefError
    ├── ConfigError                 a setting is missing or malformed (user mistake)
    ├── InputError                  bad user input: address, URL, file, date (web: 400)
    │   ├── InvalidEmailError
    │   └── TokenError              a link's token is forged, expired or for another purpose
    ├── ForbiddenError              a form without its CSRF token (web: 403)
    ├── NotFoundError               no such feed / subscriber / edition (web: 404)
    ├── EmptyEditionError           no story in the window: no edition is made or sent
    ├── UnavailableError            a service brief uses fails (the message names the setting)
    │   ├── DatabaseError           unreachable, missing, or at a schema newer than the code
    │   └── BrokerError             the task queue's broker does not answer
    ├── TransientError              worth retrying later
    │   ├── FetchError              network trouble, timeout, 5xx, 429 (may carry Retry-After)
    │   └── MailTransientError      SMTP 4xx, connection refused or dropped
    └── PermanentError              retrying will not help
        ├── FeedGoneError           HTTP 4xx (other than 429), 410
        ├── FetchRefusedError       the address is loopback/private/... (BRIEF_FETCH_ALLOW_PRIVATE)
        ├── FeedParseError          the body is not a feed
        └── MailPermanentError      SMTP 5xx for a recipient, bad address
"""

from __future__ import annotations


class BriefError(Exception):
    """Base class of every error brief raises on purpose."""


class ConfigError(BriefError):
    """A setting is missing or malformed; the message names the variable."""


class InputError(BriefError):
    """Input from a user (CLI argument, file, form field) was rejected."""


class InvalidEmailError(InputError):
    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"invalid email address {address!r}: {reason}")
        self.address = address
        self.reason = reason


class TokenError(InputError):
    """The token is forged, expired, or made for another purpose."""


class ForbiddenError(BriefError):
    """The request may not do this: a form came without the CSRF token its cookie needs."""


class NotFoundError(BriefError):
    """The thing asked for does not exist."""


class EmptyEditionError(BriefError):
    """No story in an edition's window: nothing is made, and nothing is sent.

    Not the caller's mistake (the feeds had nothing new, or failed): callers
    report it as an outcome, not as bad input.
    """


class UnavailableError(BriefError):
    """Something outside brief's control fails: a server down, a database missing.

    The message names what failed, where, and the setting to check; the CLI prints
    it as one line.
    """


class DatabaseError(UnavailableError):
    """The database cannot be reached or opened, or its schema is newer than the code."""

    @classmethod
    def unreachable(
        cls, url: str, driver_error: BaseException, setting: str = "BRIEF_DATABASE_URL"
    ) -> DatabaseError:
        """`url` shown without its password; the driver's first line, without prefixes:
        "Connection refused", 'database "x" does not exist', "unable to open database file"."""
        line = (str(driver_error).strip().splitlines() or [type(driver_error).__name__])[0]
        line = line.rpartition(" failed: ")[2] if " failed: " in line else line
        line = line.removeprefix("connection failed: ").removeprefix("FATAL:").strip()
        return cls(f"cannot reach the database at {url} ({setting}): {line}")

    @classmethod
    def newer_schema(cls, url: str, current: str, newest: str) -> DatabaseError:
        return cls(
            f"the database at {url} (BRIEF_DATABASE_URL) has schema revision {current}, "
            f"newer than this brief knows (newest {newest}): upgrade brief"
        )


class BrokerError(UnavailableError):
    """The Celery broker does not answer, so tasks cannot be queued."""


class TransientError(BriefError):
    """A failure that may go away on its own; tasks retry these."""


class PermanentError(BriefError):
    """A failure that retrying will not fix; tasks record it and stop."""


class FeedError(BriefError):
    """Base for feed failures; carries the feed URL."""

    def __init__(self, url: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.message = message
        self.status = status  # the HTTP status, when the server answered


class FetchError(FeedError, TransientError):
    """Network trouble, timeout, 5xx or 429 while fetching a feed."""

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(url, message, status=status)
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After)


class FeedGoneError(FeedError, PermanentError):
    """The server says the feed is not there (404, 410, other 4xx)."""


class FetchRefusedError(FeedError, PermanentError):
    """The fetch would connect to an address brief does not fetch from (SSRF guard)."""


class FeedParseError(FeedError, PermanentError):
    """The body could not be read as a feed."""


class MailError(BriefError):
    """Base for mail failures; carries the recipient."""

    def __init__(self, recipient: str, message: str) -> None:
        super().__init__(f"{message} (to {recipient})")
        self.recipient = recipient
        self.message = message


class MailTransientError(MailError, TransientError):
    """SMTP 4xx or a connection problem: try again later."""


class MailPermanentError(MailError, PermanentError):
    """SMTP 5xx for this recipient: do not try again."""
