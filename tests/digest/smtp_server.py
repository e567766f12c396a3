"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

Tests point paperfeed's SMTP sender at it; ``replies`` queues answers for the
next DATA commands (e.g. ``"421 4.3.0 try again later"``) to exercise retries;
``after_data`` runs once the server holds a whole message and before it answers
(to kill the sending process there, or drop the connection).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mailbox:
    """The aiosmtpd handler: every accepted message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.replies: list[str] = []  # answers to the next DATA commands
        self.data_commands = 0
        #: ``await after_data(server, message)`` before answering an accepted message.
        self.after_data: Callable[[Any, EmailMessage], Awaitable[None]] | None = None
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.data_commands += 1
            if self.replies:
                return self.replies.pop(0)
            raw = envelope.original_content or envelope.content
            parsed: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
            self.messages.append(parsed)
            self.recipients.append(list(envelope.rcpt_tos))
        if self.after_data is not None:
            await self.after_data(server, parsed)
        return "250 2.0.0 OK"

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def deliveries(self) -> dict[str, list[str]]:
        """Per recipient, the Message-IDs of the copies received, in order."""
        found: dict[str, list[str]] = {}
        with self._lock:
            for message, rcpts in zip(self.messages, self.recipients, strict=True):
                for rcpt in rcpts:
                    found.setdefault(rcpt.lower(), []).append(str(message["Message-ID"]))
        return found

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [
                m for m, rcpts in zip(self.messages, self.recipients, strict=True)
                if address.lower() in (r.lower() for r in rcpts)
            ]  # fmt: skip

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.recipients.clear()


class Credentials:
    """aiosmtpd authenticator accepting one login."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode()
        self.password = password.encode()
        self.attempts = 0

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.attempts += 1
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.username
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(**server_kwargs: Any) -> Iterator[tuple[Mailbox, int]]:
    """A running server on 127.0.0.1: ``(mailbox, port)``."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **server_kwargs)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
