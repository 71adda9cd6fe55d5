"""One SMTP connection that sends many messages, and says what became of each.

``SMTPSession.send`` runs MAIL FROM, RCPT TO and DATA by hand so that it can tell
apart the two ways a message can fail in transit:

- before the final "." of DATA is sent, the server cannot have taken the message:
  a drop, a timeout or a 4xx is TRANSIENT, safe to send again later;
- after it, a drop or a timeout leaves the message UNSURE: the server may have
  delivered it, and sending it again may make a duplicate.

When the server offers PIPELINING, MAIL, RCPT and DATA leave in one write and their
replies are read in order after it (one round trip instead of three); nothing of the
message is sent before DATA's 354 either way, so the outcomes are the same.

``before_end`` runs after the server's 354 and before that final "." leaves, for
the caller to record "sending" first. Between messages the session resets a failed
transaction (RSET), and reconnects at the next send after the server dropped the
connection or answered 421. The relay refusing us as a client (credentials, TLS,
our sender address) is no recipient's fault: it raises RelayError.

Not thread-safe: one session per thread.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl as ssl_module
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

from brief.errors import InputError, MailTransientError

_QUIT_TIMEOUT = 5.0  # seconds to wait for QUIT's reply when closing: politeness only
# An envelope address: no spaces, CR/LF or angle brackets, which would break the command.
_ENVELOPE_ADDRESS = re.compile(r"[^\s<>]+@[^\s<>@]+")


class SendOutcome(StrEnum):
    SENT = "sent"  # 250 to the end of DATA
    TRANSIENT = "transient"  # not delivered: 4xx, 421, or no connection before the final "."
    PERMANENT = "permanent"  # 5xx: do not send again
    UNSURE = "unsure"  # timeout or drop after the final ".": it may have been delivered


@dataclass(frozen=True, slots=True)
class SendReply:
    """What became of one message. ``code`` is None when no reply came (drop, timeout)."""

    outcome: SendOutcome
    code: int | None
    text: str
    stage: str = ""  # the command refused ("MAIL", "RCPT", "DATA"), when one was

    def slows_domain(self) -> bool:
        """Whether this refusal is about the receiving domain, not one recipient.

        A 421 closes the connection and a 4xx to MAIL FROM refuses the whole
        transaction: the domain is busy or throttling us. A 4xx to one RCPT TO
        (greylisting, a full mailbox) concerns that recipient alone.
        """
        if self.outcome != SendOutcome.TRANSIENT or self.code is None:
            return False
        return self.code == 421 or self.stage == "MAIL"


class RelayError(MailTransientError):
    """The relay refuses us as a client: credentials, TLS, our sender address.

    Not about any recipient, so never a per-message outcome: stop, keep the
    messages, try again once the operator fixed the settings.
    """


class _Dropped(Exception):
    """The connection failed (closed, reset, timed out, a garbled reply)."""


class SMTPSession:
    """A lazily opened connection to ``host:port``; use it as a context manager."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        ssl: bool = False,
        starttls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.ssl = ssl
        self.starttls = starttls
        self.timeout = timeout
        self.connects = 0  # connections opened so far (a reconnect counts)
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # no password in logs
        return f"SMTPSession({self.description!r})"

    @property
    def description(self) -> str:
        return f"{'smtps' if self.ssl else 'smtp'}://{self.host}:{self.port}"

    def __enter__(self) -> SMTPSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """QUIT and close; errors are ignored (the server may be gone already)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.sock is not None:
                smtp.sock.settimeout(min(self.timeout, _QUIT_TIMEOUT))
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def send(
        self,
        envelope_from: str,
        recipient: str,
        data: bytes,
        *,
        before_end: Callable[[], None] | None = None,
    ) -> SendReply:
        """Send ``data`` (a whole message with CRLF line ends, not dot-stuffed) to ``recipient``.

        Raises RelayError when the relay refuses us, InputError for an envelope
        sender that cannot be one. If ``before_end`` raises, the connection is
        closed before the end of DATA (so nothing is delivered) and the error
        propagates.
        """
        if not _ENVELOPE_ADDRESS.fullmatch(envelope_from):
            raise InputError(f"invalid envelope sender {envelope_from!r}")
        if not _ENVELOPE_ADDRESS.fullmatch(recipient):
            return SendReply(SendOutcome.PERMANENT, None, f"invalid recipient {recipient!r}")
        body = _dot_stuffed(data)
        try:
            return self._transaction(envelope_from, recipient, body, before_end)
        except BaseException:
            # before_end failed, a time limit struck, a bug: the protocol state is
            # unknown, and a message whose DATA never ended is discarded by the server.
            self._drop()
            raise

    def _transaction(
        self,
        envelope_from: str,
        recipient: str,
        body: bytes,
        before_end: Callable[[], None] | None,
    ) -> SendReply:
        reply = self._start(envelope_from, recipient)
        if reply is not None:
            return reply
        smtp = self._smtp
        assert smtp is not None  # _start connected
        try:
            _send(smtp, body)
        except _Dropped as exc:
            return self._dropped(SendOutcome.TRANSIENT, str(exc))
        if before_end is not None:
            before_end()
        try:
            _send(smtp, b".\r\n")
        except _Dropped as exc:
            # sendall failed, so the terminator's last byte never left: not delivered.
            return self._dropped(SendOutcome.TRANSIENT, f"end of DATA not sent: {exc}")
        try:
            code, text = _reply(smtp)
        except _Dropped as exc:
            return self._dropped(SendOutcome.UNSURE, f"no reply to the end of DATA: {exc}")
        if 200 <= code < 300:
            return SendReply(SendOutcome.SENT, code, text)
        if 400 <= code < 600:
            return self._refused("end of DATA", code, text, reset=False)
        # 1xx or 3xx to the end of DATA: the server may have taken the message.
        return self._dropped(SendOutcome.UNSURE, f"odd reply to the end of DATA: {code} {text}")

    def _start(self, envelope_from: str, recipient: str) -> SendReply | None:
        """Connect if needed, then MAIL, RCPT and DATA; a reply only when that failed.

        When the server offers PIPELINING (RFC 2920), the three commands go in one
        write and their replies are read after it, in order: one round trip instead of
        three. Nothing of the message leaves before DATA's 354 either way, so every
        failure here is TRANSIENT or a refusal, as without pipelining.

        A reused connection may have been closed by the server while idle: that
        shows only at the first command, before anything of the message was sent,
        so it is retried once on a fresh connection.
        """
        for attempt in (1, 2):
            reused = self._smtp is not None
            try:
                smtp = self._connection()
            except _Dropped as exc:
                return self._dropped(SendOutcome.TRANSIENT, f"cannot connect: {exc}")
            pipelined = smtp.has_extn("pipelining")
            try:
                if pipelined:
                    _send(smtp, f"MAIL FROM:<{envelope_from}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
                    code, text = _reply(smtp)
                else:
                    code, text = _command(smtp, f"MAIL FROM:<{envelope_from}>")
            except _Dropped as exc:
                if reused and attempt == 1:
                    self._drop()
                    continue
                return self._dropped(SendOutcome.TRANSIENT, str(exc))
            if code == 421 and reused and attempt == 1:
                self._drop()
                continue
            if code != 250:
                if pipelined and code != 421:
                    self._skip_replies(smtp, 2)  # RCPT's and DATA's, to RSET after them
                if 500 <= code < 600:
                    self._reset()
                    raise RelayError(self.description, f"SMTP {code} {text} (MAIL FROM)")
                return self._refused("MAIL", code, text)
            return self._recipient(smtp, recipient, pipelined)
        raise AssertionError("unreachable: the second attempt returns")

    def _recipient(self, smtp: smtplib.SMTP, recipient: str, pipelined: bool) -> SendReply | None:
        """RCPT and DATA after MAIL's 250 (already sent when pipelined): None at 354."""
        try:
            if pipelined:
                code, text = _reply(smtp)
            else:
                code, text = _command(smtp, f"RCPT TO:<{recipient}>")
            if code not in (250, 251):
                if pipelined:
                    self._skip_replies(smtp, 1)  # DATA's
                return self._refused("RCPT", code, text)
            code, text = _reply(smtp) if pipelined else _command(smtp, "DATA")
            if code != 354:
                return self._refused("DATA", code, text)
        except _Dropped as exc:
            return self._dropped(SendOutcome.TRANSIENT, str(exc))
        return None

    def _skip_replies(self, smtp: smtplib.SMTP, count: int) -> None:
        """Read the replies to pipelined commands after a refusal. A 354 (DATA taken
        although nothing can be delivered) or a drop: the connection is closed, which
        ends that DATA without a message."""
        try:
            for _ in range(count):
                code, _ = _reply(smtp)
                if code == 354:
                    self._drop()
                    return
        except _Dropped:
            self._drop()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._open()
            self.connects += 1
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        try:
            smtp = (
                smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl_module.create_default_context(),
                )
                if self.ssl
                else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            )
        except smtplib.SMTPConnectError as exc:  # a greeting other than 220
            self._relay_refuses(exc.smtp_code, exc.smtp_error, "greeting")
            raise _Dropped(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except ssl_module.SSLCertVerificationError as exc:
            raise RelayError(self.description, f"TLS certificate refused: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise _Dropped(_describe(exc)) from exc
        try:
            # The end of DATA goes in a write of its own after before_end: without
            # this, Nagle's algorithm holds it until the body is acknowledged, which a
            # delayed ACK puts off by up to 40 ms (25 messages per second).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._hello(smtp)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _hello(self, smtp: smtplib.SMTP) -> None:
        """EHLO, then STARTTLS and AUTH when configured."""
        try:
            smtp.ehlo_or_helo_if_needed()
            if self.starttls:
                smtp.starttls(context=ssl_module.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPNotSupportedError as exc:  # no STARTTLS or AUTH on offer
            raise RelayError(self.description, f"{exc}") from exc
        except ssl_module.SSLCertVerificationError as exc:
            raise RelayError(self.description, f"TLS certificate refused: {exc}") from exc
        except smtplib.SMTPResponseException as exc:  # EHLO, STARTTLS, AUTH replies
            self._relay_refuses(exc.smtp_code, exc.smtp_error, "hello or login")
            raise _Dropped(f"{exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except smtplib.SMTPException as exc:  # no AUTH mechanism in common, drops
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise _Dropped(_describe(exc)) from exc
            raise RelayError(self.description, f"{exc}") from exc
        except OSError as exc:
            raise _Dropped(_describe(exc)) from exc

    def _relay_refuses(self, code: int, text: bytes | str, what: str) -> None:
        """A 5xx to the greeting, EHLO, STARTTLS or AUTH: the relay wants none of us."""
        if 500 <= code < 600:
            raise RelayError(self.description, f"SMTP {code} {_text(text)} ({what})")

    def _refused(self, stage: str, code: int, text: str, *, reset: bool = True) -> SendReply:
        """A 4xx/5xx reply: 421 ends the connection, other failures the transaction."""
        message = f"{stage}: {code} {text}"
        if code == 421:
            self._drop()
            return SendReply(SendOutcome.TRANSIENT, code, message, stage)
        if reset:
            self._reset()
        if 500 <= code < 600:
            return SendReply(SendOutcome.PERMANENT, code, message, stage)
        return SendReply(SendOutcome.TRANSIENT, code, message, stage)

    def _dropped(self, outcome: SendOutcome, text: str) -> SendReply:
        self._drop()
        return SendReply(outcome, None, text)

    def _reset(self) -> None:
        """RSET after a failed transaction; a connection that fails it is dropped."""
        if self._smtp is None:
            return
        try:
            code, _ = _command(self._smtp, "RSET")
        except _Dropped:
            code = 421
        if code != 250:
            self._drop()

    def _drop(self) -> None:
        """Close without QUIT: the connection is broken or mid-DATA."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: ends with CRLF, a dot that starts a line doubled (RFC 5321 4.5.2).

    ``data`` must already have CRLF line ends, as personalize's bytes do: finding
    and fixing bare CR or LF would scan each message twice more, and smtplib's
    sendmail spends most of its time there.
    """
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    data = data.replace(b"\r\n.", b"\r\n..")
    return b"." + data if data.startswith(b".") else data


def _command(smtp: smtplib.SMTP, line: str) -> tuple[int, str]:
    try:
        smtp.putcmd(line)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise _Dropped(_describe(exc)) from exc
    return _reply(smtp)


def _send(smtp: smtplib.SMTP, data: bytes | str) -> None:
    """Write ``data`` (a str as ASCII, as smtplib's commands are)."""
    try:
        smtp.send(data)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise _Dropped(_describe(exc)) from exc


def _reply(smtp: smtplib.SMTP) -> tuple[int, str]:
    try:
        code, text = smtp.getreply()
    except (smtplib.SMTPException, OSError) as exc:  # EOF, reset, timeout, overlong line
        raise _Dropped(_describe(exc)) from exc
    if not 100 <= code < 600:  # getreply says -1 for a line without a code
        raise _Dropped(f"garbled reply: {_text(text)!r}")
    return code, _text(text)


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
