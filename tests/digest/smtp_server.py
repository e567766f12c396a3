"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

Tests point paperfeed's SMTP sender at it; ``replies`` queues answers for the
next DATA commands (e.g. ``"421 4.3.0 try again later"``) to exercise retries.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
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
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.data_commands += 1
            if self.replies:
                return self.replies.pop(0)
            raw = envelope.original_content or envelope.content
            parsed = message_from_bytes(raw, policy=policy.default)
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 2.0.0 OK"

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
