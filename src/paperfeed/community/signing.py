"""Signed links (invites, password resets, e-mail changes) read against the service's clock.

itsdangerous signs and checks the links; its timestamp comes from the clock the
service was given, so tests move time instead of sleeping and links expire exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from itsdangerous import TimestampSigner, URLSafeTimedSerializer


def timed_serializer(
    secret: str, salt: str, clock: Callable[[], datetime]
) -> URLSafeTimedSerializer:
    """A serializer whose tokens carry ``clock()``'s time and expire by it."""

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return URLSafeTimedSerializer(secret, salt=salt, signer=ClockSigner)
