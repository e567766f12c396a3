"""Account changes: password reset by e-mail, a new e-mail address, deleting an account.

* **Password reset.** A request names an address and always gets the same answer,
  whether an account uses it or not; only if one does is a link made (and mailed by
  the caller). The link is signed, expires after ``reset_minutes`` and is single-use:
  it carries a fingerprint of the password hash it was made for, so once the password
  changes (by this link or otherwise) it stops working. Requests are limited per
  address and per client address (counted for every address, known or not, so the
  limit reveals nothing), in the database so every process shares the counts.
* **A new e-mail address** needs the current password, and takes effect only when
  the link mailed to the new address is followed (signed, expiring after
  ``email_change_hours``; it names the old address, so it works once). The account
  keeps its old address until then.
* **Deleting an account** needs the password and removes, in one transaction, what
  the README's "Deleting an account" lists: upvotes (the papers' counts drop), own
  collections (public ones too), saved searches, follows, alerts, the digest
  subscription, sessions and tokens, the reference library and feedback. Papers it
  submitted stay (they are arXiv's). Shared collections it started stay with their
  group, under a remaining owner; a group it alone owned passes to its
  longest-standing member, or is deleted when no one else is in it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.community.accounts import RateLimited, check_email, check_password
from paperfeed.community.collections import free_slug
from paperfeed.community.signing import timed_serializer
from paperfeed.errors import ConfigError, InputError, NotFoundError, PermissionDenied
from paperfeed.models.community import User
from paperfeed.storage.values import parse_instant

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from paperfeed.storage import Storage

RESET_SALT = "paperfeed.accounts.reset"
EMAIL_SALT = "paperfeed.accounts.email"
#: (requests, window) of password resets per address and per client address.
RESET_PER_ADDRESS = (3, timedelta(hours=1))
RESET_PER_CLIENT = (10, timedelta(hours=1))
#: mail_events rows older than this are forgotten (the longest window of any kind).
MAIL_EVENTS_KEPT = timedelta(days=1)


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


class AccountChangesMixin:
    """Password reset, e-mail change and deletion methods of
    :class:`paperfeed.community.Community`."""

    storage: Storage
    _now: Callable[[], datetime]
    _secret: Callable[[], str] | None
    _hasher: PasswordHasher
    reset_minutes: int
    email_change_hours: int

    def _signed(self, salt: str) -> URLSafeTimedSerializer:
        if self._secret is None:
            raise ConfigError("signed account links need the site's secret (Community(secret=...))")
        return timed_serializer(self._secret(), salt, self._now)

    # -- password reset ------------------------------------------------------------------

    def password_reset_token(self, email: str, *, client: str = "") -> tuple[User, str] | None:
        """Count the request (RateLimited past the limits) and, if an account uses the
        address, its reset link's token; None otherwise (the caller answers the same)."""
        _, key = check_email(email)
        now = self._now()
        self._check_reset_rate(key, (client or "").strip()[:200], now)
        mails = self.storage.subscriptions
        mails.record_mail("reset", key, (client or "").strip()[:200], now,
                          forget_before=now - MAIL_EVENTS_KEPT)  # fmt: skip
        with self.storage.db.transaction(readonly=True) as tx:
            found = self.storage.users.credentials(tx, key)
        if found is None or found[0].email.lower() != key:  # a username that looks like mail
            return None
        user, password_hash = found
        token = self._signed(RESET_SALT).dumps([user.id, _fingerprint(password_hash)])
        return user, str(token)

    def _check_reset_rate(self, email_key: str, client: str, now: datetime) -> None:
        checks = [("email_key", email_key, RESET_PER_ADDRESS, "for this address")]
        if client:
            checks.append(("client", client, RESET_PER_CLIENT, "from your network"))
        for column, value, (limit, window), where in checks:
            times = self.storage.subscriptions.mails_since(
                column, value, now - window, kind="reset"
            )
            if len(times) >= limit:
                pivot = parse_instant(times[len(times) - limit])
                wait = max(1, math.ceil((pivot + window - now).total_seconds()))  # type: ignore[operator]
                minutes = math.ceil(wait / 60)
                raise RateLimited(
                    f"too many password resets asked {where}; try again in {minutes} minute"
                    + ("s" if minutes != 1 else ""),
                    wait,
                )

    def reset_link_user(self, token: str) -> User:
        """The account a reset link is for, if it still works (else an error saying why)."""
        try:
            value = self._signed(RESET_SALT).loads(token, max_age=self.reset_minutes * 60)
        except SignatureExpired:
            raise InputError("this password reset link has expired: ask for a new one") from None
        except BadSignature:
            raise NotFoundError("this is not a valid password reset link") from None
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
            raise NotFoundError("this is not a valid password reset link")
        user_id, fingerprint = value
        stored = self.storage.users.password_hash(user_id)
        if stored is None:
            raise NotFoundError("this is not a valid password reset link")
        if not hmac.compare_digest(str(fingerprint).encode(), _fingerprint(stored).encode()):
            raise InputError("this password reset link was used already: ask for a new one")
        return self.user(user_id)  # type: ignore[attr-defined,no-any-return]

    def reset_password(self, token: str, new_password: str) -> User:
        """Set a new password from a reset link: every session ends, the link and any
        other link made before stop working, and failed sign-ins are forgiven."""
        check_password(new_password)
        user = self.reset_link_user(token)
        fresh = self._hasher.hash(new_password)
        with self.storage.db.transaction() as tx:
            self.storage.users.set_password_hash(tx, user.id, fresh)
            self.storage.users.delete_sessions_of(tx, user.id)
            self.storage.users.forgive_failures(tx, f"user:{user.id}", "")
            tx.execute("DELETE FROM login_attempts WHERE login_key = ?", (f"user:{user.id}",))
        return user

    # -- a new e-mail address --------------------------------------------------------------

    def email_change_token(
        self, user_id: int, new_email: str, password: str
    ) -> tuple[User, str, str]:
        """``(user, new address, token)`` for the confirmation link to mail to the new
        address. Needs the current password (limited like sign-ins)."""
        address, key = check_email(new_email)
        user = self.user(user_id)  # type: ignore[attr-defined]
        self._require_password(user_id, password)
        if key == user.email.lower():
            raise InputError("that is already your address")
        with self.storage.db.transaction(readonly=True) as tx:
            if self.storage.users.taken(tx, "", key)[1]:
                raise InputError("an account with this e-mail address already exists")
        token = self._signed(EMAIL_SALT).dumps([user.id, address, _fingerprint(user.email.lower())])
        return user, address, str(token)

    def email_link(self, token: str) -> tuple[User, str]:
        """The account and new address an e-mail change link is for, if it still works."""
        try:
            value = self._signed(EMAIL_SALT).loads(token, max_age=self.email_change_hours * 3600)
        except SignatureExpired:
            raise InputError("this link has expired: change your address again") from None
        except BadSignature:
            raise NotFoundError("this is not a valid e-mail confirmation link") from None
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], int)):
            raise NotFoundError("this is not a valid e-mail confirmation link")
        user_id, address, fingerprint = value
        user = self.storage.users.get(user_id)
        if user is None:
            raise NotFoundError("this is not a valid e-mail confirmation link")
        if not hmac.compare_digest(
            str(fingerprint).encode(), _fingerprint(user.email.lower()).encode()
        ):
            raise InputError("this link was used already, or the address changed since")
        return user, str(address)

    def confirm_email_change(self, token: str) -> User:
        """Follow the link: the account's address (and its digest subscription's, when
        the new address has none of its own) becomes the new one."""
        user, address = self.email_link(token)
        address, key = check_email(address)
        now = self._now()
        with self.storage.db.transaction() as tx:
            if self.storage.users.taken(tx, "", key)[1]:
                raise InputError("an account with this e-mail address already exists")
            tx.execute(
                "UPDATE users SET email = ?, email_key = ? WHERE id = ?", (address, key, user.id)
            )
            if self.storage.subscriptions.row_by_email(tx, key) is None:
                for row in tx.query("SELECT id FROM subscribers WHERE user_id = ?", (user.id,)):
                    self.storage.subscriptions.update(
                        tx, row["id"], now, email=address, email_key=key
                    )
            else:  # the new address has a subscription of its own: the account's old one ends
                tx.execute("UPDATE subscribers SET user_id = NULL WHERE user_id = ?", (user.id,))
        return self.user(user.id)  # type: ignore[attr-defined,no-any-return]

    # -- deleting ------------------------------------------------------------------------

    def _require_password(self, user_id: int, password: str) -> None:
        stored = self.storage.users.password_hash(user_id)
        if stored is None:
            raise NotFoundError(f"no user with id {user_id}")
        key, now = f"user:{user_id}", self._now()
        self._check_rate(key, "", now)  # type: ignore[attr-defined]
        if not self._verify(stored, password):  # type: ignore[attr-defined]
            self.storage.users.record_failure(key, "", now, forget_before=now - self.login_window)  # type: ignore[attr-defined]
            raise PermissionDenied("wrong password")

    def delete_account(self, user_id: int, password: str | None) -> dict[str, Any]:
        """Delete the account (``password`` None: an administrator's CLI); returns what
        was removed, by kind."""
        if password is not None:
            self._require_password(user_id, password)
        user = self.user(user_id)  # type: ignore[attr-defined]
        db = self.storage.db
        removed: dict[str, Any] = {"username": user.username}
        with db.transaction() as tx:
            voted = [row["paper_id"] for row in tx.query(
                "SELECT paper_id FROM votes WHERE user_id = ?", (user_id,))]  # fmt: skip
            for paper_id in voted:  # each adjusts the paper's count and logs the change
                self.storage.votes.remove(tx, user_id, paper_id)
            removed["upvotes"] = len(voted)
            removed["groups"] = self._leave_groups(tx, user_id)
            removed["collections"] = tx.execute(
                "DELETE FROM collections WHERE owner_id = ? AND group_id IS NULL", (user_id,)
            )
            removed["digest_subscriptions"] = tx.execute(
                "DELETE FROM subscribers WHERE user_id = ?", (user_id,)
            )
            tx.execute("DELETE FROM login_attempts WHERE login_key = ?", (f"user:{user_id}",))
            tx.execute("DELETE FROM users WHERE id = ?", (user_id,))  # the rest cascades
        return removed

    def _leave_groups(self, tx: Any, user_id: int) -> dict[str, int]:
        """Hand over what the user holds in groups before they go."""
        groups = self.storage.groups
        handed, deleted = 0, 0
        for group in groups.of_user(user_id):
            members = groups.members(group.id, tx)
            others = sorted((m for m in members if m.user_id != user_id), key=lambda m: m.joined_at)
            if not others:
                groups.delete(tx, group.id)
                deleted += 1
                continue
            owners = [m for m in others if m.role == "owner"]
            if not owners:
                groups.set_member(tx, group.id, others[0].user_id, role="owner")
                owners = [others[0]]
                handed += 1
            heir = owners[0].user_id
            for row in tx.query(
                "SELECT id, slug FROM collections WHERE group_id = ? AND owner_id = ?",
                (group.id, user_id),
            ):
                # Slugs are unique per owner: the heir may have one of that name already.
                stem = re.sub(r"-\d+$", "", row["slug"])
                slug = free_slug(stem, self.storage.collections.slugs_of(tx, heir, stem))
                tx.execute(
                    "UPDATE collections SET owner_id = ?, slug = ? WHERE id = ?",
                    (heir, slug, row["id"]),
                )
        return {"handed_over": handed, "deleted": deleted}
