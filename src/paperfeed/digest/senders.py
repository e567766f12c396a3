"""Where mail goes: an SMTP server, the console (development) or ``.eml`` files.

:class:`SmtpSender` retries transient failures (4xx replies, refused or dropped
connections, timeouts) with exponential backoff, a bounded number of times, and
reports what is left as :class:`TransientSendError`; a 5xx reply is final
(:class:`PermanentSendError`). A refused login or an untrusted certificate is a
configuration problem (:class:`~paperfeed.errors.ConfigError`): no message can go
until someone fixes the settings, so retrying would only delay saying so.

**The hand-over.** Once the server has read a message's final line it may deliver
it, and its "250" is the only sign that it will; SMTP has no way to ask later. So
a sender (1) calls ``before_data`` right before the ``DATA`` command, after the
server accepted sender and recipients: the send log records the hand-over there,
and can still stop it (nothing has been transmitted that the server could deliver);
(2) never retries a message by itself once its final line went out unanswered (a
dropped connection, a timeout): it raises :class:`TransientSendError` with
``answered=False`` and leaves the decision to the send log, which counts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import smtplib
import ssl
import sys
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol, TextIO

from paperfeed.errors import ConfigError, PaperfeedError
from paperfeed.models import utc_now
from paperfeed.settings import Settings

SmtpSecurity = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


class SendError(PaperfeedError):
    """A message could not be delivered to the mail server."""

    exit_code = 5


class PermanentSendError(SendError):
    """The server refused this message for good (5xx): retrying cannot help."""


class TransientSendError(SendError):
    """Still failing after the retries. ``recipient_only``: the server is fine but
    this recipient was deferred (a full mailbox), so other messages can still go.
    ``answered=False``: the whole message went out and the connection failed before
    the server answered, so the server may have it (not retried here)."""

    def __init__(
        self, message: str, *, recipient_only: bool = False, answered: bool = True
    ) -> None:
        super().__init__(message)
        self.recipient_only = recipient_only
        self.answered = answered


#: Called right before a message is handed to the server; raising stops the hand-over.
BeforeData = Callable[[], None]


class Sender(Protocol):
    def send(self, message: EmailMessage, *, before_data: BeforeData | None = None) -> None:
        """Deliver ``message``, calling ``before_data`` (if given) right before the
        point after which the message may reach its recipient."""
        ...

    def close(self) -> None: ...


def text_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""  # type: ignore[union-attr]


class ConsoleSender:
    """Prints each mail's headers and text part (with its links) to stdout: in
    development, the confirmation link is copied from the server's console."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, message: EmailMessage, *, before_data: BeforeData | None = None) -> None:
        if before_data is not None:
            before_data()
        out = self.stream or sys.stdout
        lines = [
            "-" * 72,
            f"Mail to {message['To']}  (console sender: nothing was sent)",
            f"Subject: {message['Subject']}",
            "",
            text_part(message).rstrip(),
            "-" * 72,
        ]
        with self._lock:
            out.write("\n".join(lines) + "\n")
            out.flush()

    def close(self) -> None:
        return None


class FileSender:
    """Writes each mail as an ``.eml`` file into ``folder`` (``data_dir/outbox``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def send(self, message: EmailMessage, *, before_data: BeforeData | None = None) -> Path:  # type: ignore[override]
        if before_data is not None:
            before_data()
        self.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(str(message["Message-ID"]).encode()).hexdigest()[:12]
        path = self.folder / f"{utc_now():%Y%m%dT%H%M%SZ}-{digest}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(message.as_bytes())
        os.replace(partial, path)  # readers never see half a file
        return path

    def close(self) -> None:
        return None


class _HandoverMixin:
    """smtplib's DATA step, plus the hand-over hook and knowing whether a failure came
    while the server held the whole message unanswered. Rewritten rather than wrapped
    because smtplib's ``data()`` sends the message and reads the reply in one call."""

    before_data: BeforeData | None = None
    #: True from the moment the message's final line is sent until the reply is read.
    awaiting_reply = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        smtp: smtplib.SMTP = self  # type: ignore[assignment]
        if self.before_data is not None:
            try:
                self.before_data()
            except BaseException:
                # Leave the connection usable: forget sender and recipients.
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.rset()
                raise
        code, reply = smtp.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if isinstance(msg, str):
            msg = re.sub(r"\r\n|\r|\n", "\r\n", msg).encode("ascii")
        payload = re.sub(rb"(?m)^\.", b"..", msg)  # dot-stuffing (RFC 5321 4.5.2)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        smtp.send(payload + b".\r\n")
        self.awaiting_reply = True
        answer = smtp.getreply()
        self.awaiting_reply = False
        return answer


class _SMTP(_HandoverMixin, smtplib.SMTP):
    pass


class _SMTPS(_HandoverMixin, smtplib.SMTP_SSL):
    pass


class SmtpSender:
    """Delivers over SMTP, keeping one connection open between messages of a run.

    Thread-safe: sends are serialised on one connection (a digest run and the web
    app's confirmation mails may share the sender).
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: SmtpSecurity = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        retry_base_seconds: float = 2.0,
        ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if security not in DEFAULT_PORTS:
            raise ConfigError(
                f"PAPERFEED_SMTP_SECURITY must be starttls, tls or none, not {security!r}"
            )
        if username and password is None:
            raise ConfigError("PAPERFEED_SMTP_USERNAME is set but PAPERFEED_SMTP_PASSWORD is not")
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.retry_base_seconds = retry_base_seconds
        self.ssl_context = ssl_context
        self._sleep = sleep
        self._connection: _SMTP | _SMTPS | None = None
        self._lock = threading.RLock()

    def _connect(self) -> _SMTP | _SMTPS:
        context = self.ssl_context or ssl.create_default_context()
        connection: _SMTP | _SMTPS
        if self.security == "tls":
            connection = _SMTPS(self.host, self.port, timeout=self.timeout, context=context)
        else:
            connection = _SMTP(self.host, self.port, timeout=self.timeout)
        try:
            connection.ehlo()
            if self.security == "starttls":
                connection.starttls(context=context)
                connection.ehlo()
            if self.username:
                connection.login(self.username, self._password or "")
        except BaseException:
            self._drop(connection)
            raise
        return connection

    @staticmethod
    def _drop(connection: smtplib.SMTP | None) -> None:
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    def send(self, message: EmailMessage, *, before_data: BeforeData | None = None) -> None:
        with self._lock:
            last = ""
            for attempt in range(1, self.max_attempts + 1):
                connection = None
                try:
                    if self._connection is None:
                        self._connection = self._connect()
                    connection = self._connection
                    connection.before_data = before_data
                    try:
                        connection.send_message(message)
                    finally:
                        connection.before_data = None
                    return
                except smtplib.SMTPAuthenticationError as exc:
                    self._reset()
                    raise ConfigError(
                        f"the SMTP server {self.host} refused the login of"
                        f" {self.username!r}: {_reply(exc)}"
                    ) from None
                except smtplib.SMTPNotSupportedError as exc:
                    self._reset()
                    raise ConfigError(
                        f"the SMTP server {self.host}:{self.port} does not support this"
                        f" (PAPERFEED_SMTP_SECURITY={self.security}): {exc}"
                    ) from None
                except ssl.SSLCertVerificationError as exc:
                    self._reset()
                    raise ConfigError(
                        f"the TLS certificate of {self.host} is not trusted: {exc.verify_message}"
                    ) from None
                except smtplib.SMTPRecipientsRefused as exc:
                    codes = [code for code, _ in exc.recipients.values()]
                    last = "; ".join(
                        f"{code} {_text(text)}" for code, text in exc.recipients.values()
                    )
                    if codes and all(500 <= code < 600 for code in codes):
                        raise PermanentSendError(f"recipient refused: {last}") from None
                    if 421 in codes:  # the server is closing: not the recipient's fault
                        self._reset()
                    elif attempt == self.max_attempts:
                        raise TransientSendError(
                            f"recipient deferred: {last}", recipient_only=True
                        ) from None
                except smtplib.SMTPResponseException as exc:
                    last = _reply(exc)
                    self._reset()
                    if 500 <= exc.smtp_code < 600:
                        raise PermanentSendError(f"message refused: {last}") from None
                except (smtplib.SMTPServerDisconnected, OSError) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                    self._reset()
                    if connection is not None and connection.awaiting_reply:
                        # The server may have it: sending again could deliver it twice.
                        raise TransientSendError(
                            f"SMTP server {self.host}:{self.port} did not answer after"
                            f" receiving the message ({last}): it may or may not deliver it",
                            answered=False,
                        ) from None
                if attempt < self.max_attempts:
                    self._sleep(self.retry_base_seconds * 2 ** (attempt - 1))
            raise TransientSendError(
                f"SMTP server {self.host}:{self.port} failed {self.max_attempts} times: {last}"
            )

    def _reset(self) -> None:
        connection, self._connection = self._connection, None
        self._drop(connection)

    def close(self) -> None:
        with self._lock:
            self._reset()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def sender_kind(settings: Settings) -> Literal["console", "file", "smtp"]:
    return settings.mail_sender or ("smtp" if settings.smtp_host else "console")


def make_sender(settings: Settings) -> Sender:
    """The sender the settings describe (console in development unless SMTP is set)."""
    kind = sender_kind(settings)
    if kind == "file":
        return FileSender(settings.data_dir / "outbox")
    if kind == "console":
        return ConsoleSender()
    if not settings.smtp_host:
        raise ConfigError("PAPERFEED_MAIL_SENDER=smtp needs PAPERFEED_SMTP_HOST")
    if not settings.mail_from:
        raise ConfigError(
            "sending over SMTP needs PAPERFEED_MAIL_FROM, e.g. 'paperfeed <digest@example.org>'"
        )
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=password,
        timeout=settings.smtp_timeout_seconds,
        max_attempts=settings.smtp_max_attempts,
        retry_base_seconds=settings.smtp_retry_base_seconds,
    )
