"""Accounts: sign-up, sign-in with a rate limit, sessions and API tokens.

Rate limit (failed sign-ins, counted in the database so every worker process
shares them): after ``max_login_failures`` failures within ``login_window`` for
the same account, or from the same client address, further attempts are refused
with :class:`RateLimited` *without checking the password*, until the window has
slid past enough of those failures.

* Failures are counted per account, not per login text: trying a user's name and
  then their e-mail address counts twice against the same account. Logins that
  match no account are counted by their text, so probing cannot tell them apart.
* A successful sign-in forgives only the failures that *the same client* made for
  *the same account* (a user who mistyped twice and then got it right). It never
  clears failures other clients made against that account, so an attacker's
  guesses keep counting after the owner signs in; and it never clears a client's
  failures against other accounts, so signing in to one's own account between
  guesses does not reset the per-client limit.
* Refused (rate-limited) attempts are not recorded: they were not checked, and
  recording them would let an attacker keep the owner locked out indefinitely
  with one request per window.
* An empty ``client`` (the CLI, tests) has no per-client counter.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.errors import InputError, NotFoundError, PermissionDenied
from paperfeed.models.community import Session, User
from paperfeed.storage.values import parse_instant

if TYPE_CHECKING:
    from collections.abc import Callable

    from paperfeed.storage import Storage

USERNAME_RE = re.compile(r"^[a-z0-9_-]{3,32}$")
# Deliberately loose: one @, no spaces, a dot in the domain. Whether mail arrives
# is the only real test, and digests will find out.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # hashing is costly: refuse megabyte "passwords"
TOKEN_NAME_MAX = 100
WRONG_LOGIN = "wrong username or password"
API_TOKEN_PREFIX = "pf_"


class RateLimited(PermissionDenied):
    """Too many failed sign-ins; ``retry_after`` is in seconds (for a Retry-After header)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def secret_digest(value: str) -> str:
    """How session ids and API tokens are stored: they are long random strings,
    so a fast hash is enough to make a stolen database useless for signing in."""
    return hashlib.sha256(value.encode()).hexdigest()


def normalize_username(text: str) -> str:
    return text.strip().lower()


def check_username(text: str) -> str:
    username = normalize_username(text or "")
    if not USERNAME_RE.fullmatch(username):
        raise InputError(
            "username must be 3-32 characters of lower-case letters, digits, '_' or '-'"
        )
    return username


def check_email(text: str) -> tuple[str, str]:
    """``(email as typed, key for uniqueness)``."""
    email = (text or "").strip()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise InputError(f"not an e-mail address: {email[:80]!r}")
    return email, email.lower()


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


class AccountsMixin:
    """Account methods of :class:`paperfeed.community.Community`."""

    storage: Storage
    _now: Callable[[], datetime]
    _hasher: PasswordHasher
    max_login_failures: int
    login_window: timedelta
    _dummy: str | None

    # -- users -------------------------------------------------------------------------

    def sign_up(self, username: str, email: str, password: str, *, client: str = "") -> User:
        """Create an account; the first account of the installation is an admin.

        Sign-ups from one client (IP) are limited like failed sign-ins (5 per window):
        each costs an argon2 hash, so an open form would otherwise be a cheap way to
        load the server and fill the users table.
        """
        client = (client or "").strip()[:200]
        if client:
            key, now = f"signup:{client}", self._now()
            since = now - self.login_window
            times = self.storage.users.failures_since("login_key", key, since)
            if len(times) >= self.max_login_failures:
                pivot = parse_instant(times[len(times) - self.max_login_failures])
                wait = max(1, math.ceil((pivot + self.login_window - now).total_seconds()))  # type: ignore[operator]
                minutes = math.ceil(wait / 60)
                raise RateLimited(
                    f"too many sign-ups from your address; try again in {minutes} minute"
                    + ("s" if minutes != 1 else ""),
                    wait,
                )
            # Recorded under its own key (client left empty) so sign-ups never count
            # against the same address's sign-in attempts.
            self.storage.users.record_failure(key, "", now, forget_before=since)
        return self._create_user(username, email, password, admin=None)

    def create_user(self, username: str, email: str, password: str, *, admin: bool = False) -> User:
        """Create an account with an explicit admin flag (``paperfeed users create``)."""
        return self._create_user(username, email, password, admin=admin)

    def _create_user(self, username: str, email: str, password: str, *, admin: bool | None) -> User:
        name = check_username(username)
        address, email_key = check_email(email)
        check_password(password)
        users = self.storage.users
        with self.storage.db.transaction(readonly=True) as tx:
            self._raise_if_taken(*users.taken(tx, name, email_key), name)  # before the slow hash
        password_hash = self._hasher.hash(password)
        now = self._now()
        with self.storage.db.transaction() as tx:
            users.lock_signups(tx)  # two first sign-ups must not both become admin
            is_admin = admin if admin is not None else not users.any_user(tx)
            user_id = users.insert(
                tx, username=name, email=address, email_key=email_key,
                password_hash=password_hash, is_admin=is_admin, created_at=now,
            )  # fmt: skip
            if user_id is None:  # lost a race for the name or address
                self._raise_if_taken(*users.taken(tx, name, email_key), name)
                raise InputError("could not create the account; try again")
        return User(user_id, name, address, is_admin, now)

    @staticmethod
    def _raise_if_taken(name_taken: bool, email_taken: bool, name: str) -> None:
        if name_taken:
            raise InputError(f"username {name!r} is taken")
        if email_taken:
            raise InputError("an account with this e-mail address already exists")

    def user(self, user_id: int) -> User:
        found = self.storage.users.get(user_id)
        if found is None:
            raise NotFoundError(f"no user with id {user_id}")
        return found

    def user_by_username(self, username: str) -> User:
        found = self.storage.users.by_username(normalize_username(username or ""))
        if found is None:
            raise NotFoundError(f"no user {username!r}")
        return found

    def users(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        return self.storage.users.list(limit=limit, offset=offset)

    def set_admin(self, user_id: int, is_admin: bool) -> User:
        if not self.storage.users.set_admin(user_id, is_admin):
            raise NotFoundError(f"no user with id {user_id}")
        return self.user(user_id)

    # -- passwords and sign-in -----------------------------------------------------------

    def authenticate(self, login: str, password: str, *, client: str = "") -> User:
        """The user whose username or e-mail is ``login``; see the module doc for limits."""
        login_text = (login or "").strip().lower()
        client = (client or "").strip()[:200]
        users = self.storage.users
        with self.storage.db.transaction(readonly=True) as tx:
            found = users.credentials(tx, login_text)
        login_key = f"user:{found[0].id}" if found else f"login:{login_text[:320]}"
        now = self._now()
        self._check_rate(login_key, client, now)
        # Unknown logins still cost one hash, so timing does not reveal which exist.
        if not self._verify(found[1] if found else self._dummy_hash(), password) or not found:
            users.record_failure(login_key, client, now, forget_before=now - self.login_window)
            raise PermissionDenied(WRONG_LOGIN)
        user, stored_hash = found
        fresh_hash = (
            self._hasher.hash(password) if self._hasher.check_needs_rehash(stored_hash) else None
        )
        with self.storage.db.transaction() as tx:
            users.forgive_failures(tx, login_key, client)
            if fresh_hash:  # the hasher's parameters changed since this hash was made
                users.set_password_hash(tx, user.id, fresh_hash)
        return user

    def change_password(
        self, user_id: int, current: str, new: str, *, keep_session: str | None = None
    ) -> None:
        """Replace the password and sign out every other session."""
        check_password(new)
        stored = self.storage.users.password_hash(user_id)
        if stored is None:
            raise NotFoundError(f"no user with id {user_id}")
        login_key, now = f"user:{user_id}", self._now()
        self._check_rate(login_key, "", now)
        if not self._verify(stored, current):
            self.storage.users.record_failure(
                login_key, "", now, forget_before=now - self.login_window
            )
            raise PermissionDenied("wrong password")
        fresh_hash = self._hasher.hash(new)
        with self.storage.db.transaction() as tx:
            self.storage.users.set_password_hash(tx, user_id, fresh_hash)
            self.storage.users.delete_sessions_of(
                tx, user_id, keep=secret_digest(keep_session) if keep_session else None
            )

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password or "")
        except (VerificationError, InvalidHashError):
            return False

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def _check_rate(self, login_key: str, client: str, now: datetime) -> None:
        since = now - self.login_window
        counters = [self.storage.users.failures_since("login_key", login_key, since)]
        if client:
            counters.append(self.storage.users.failures_since("client", client, since))
        waits = []
        for times in counters:
            if len(times) >= self.max_login_failures:
                # Allowed again once all but (limit - 1) of these have left the window.
                pivot = parse_instant(times[len(times) - self.max_login_failures])
                waits.append((pivot + self.login_window - now).total_seconds())  # type: ignore[operator]
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            minutes = math.ceil(retry_after / 60)
            raise RateLimited(
                f"too many failed sign-in attempts; try again in {minutes} minute"
                + ("s" if minutes != 1 else ""),
                retry_after,
            )

    # -- sessions ----------------------------------------------------------------------

    def start_session(self, user_id: int, *, lifetime: timedelta = timedelta(days=30)) -> Session:
        if lifetime <= timedelta(0):
            raise InputError("session lifetime must be positive")
        now = self._now()
        session = Session(
            token=secrets.token_urlsafe(32),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + lifetime,
        )
        with self.storage.db.transaction() as tx:
            if self.storage.users.get(user_id) is None:
                raise NotFoundError(f"no user with id {user_id}")
            self.storage.users.delete_expired_sessions(tx, now)
            self.storage.users.insert_session(tx, secret_digest(session.token), session)
        return session

    def session(self, token: str) -> tuple[User, Session] | None:
        """The user and session for a cookie value; None if unknown or expired."""
        if not token or not isinstance(token, str):
            return None
        found = self.storage.users.session(secret_digest(token), self._now())
        if found is None:
            return None
        user, row = found
        return user, Session(
            token=token,
            user_id=user.id,
            csrf_token=row["csrf_token"],
            created_at=parse_instant(row["session_created_at"]),  # type: ignore[arg-type]
            expires_at=parse_instant(row["expires_at"]),  # type: ignore[arg-type]
        )

    def end_session(self, token: str) -> None:
        if token and isinstance(token, str):
            self.storage.users.delete_session(secret_digest(token))

    def end_all_sessions(self, user_id: int) -> int:
        with self.storage.db.transaction() as tx:
            return self.storage.users.delete_sessions_of(tx, user_id)

    # -- API tokens --------------------------------------------------------------------

    def create_api_token(self, user_id: int, name: str) -> str:
        """A new token for the JSON API; returned once, stored only as a hash."""
        label = (name or "").strip()
        if not 1 <= len(label) <= TOKEN_NAME_MAX:
            raise InputError(f"token name must be 1-{TOKEN_NAME_MAX} characters")
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.storage.db.transaction() as tx:
            if self.storage.users.get(user_id) is None:
                raise NotFoundError(f"no user with id {user_id}")
            self.storage.users.insert_token(
                tx, user_id, label, secret_digest(token), token[:10], self._now()
            )
        return token

    def user_for_api_token(self, token: str) -> User | None:
        if not isinstance(token, str) or not token.startswith(API_TOKEN_PREFIX):
            return None
        found = self.storage.users.user_for_token(secret_digest(token))
        if found is None:
            return None
        user, token_id, last_used = found
        now = self._now()
        # One write a minute per token, not one per API request.
        last = parse_instant(last_used)
        if last is None or now - last >= timedelta(minutes=1):
            self.storage.users.touch_token(token_id, now)
        return user

    def api_tokens(self, user_id: int) -> list[dict[str, Any]]:
        """``id, name, prefix, created_at, last_used_at`` of each token (never the token)."""
        return self.storage.users.tokens_of(user_id)

    def revoke_api_token(self, user_id: int, token_id: int) -> None:
        if not self.storage.users.delete_token(user_id, token_id):
            raise NotFoundError(f"no API token {token_id}")
