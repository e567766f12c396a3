"""Subscribing: double opt-in through signed links, topics, rate limits.

* **Double opt-in.** A new address is ``pending`` and receives exactly one kind
  of mail, the confirmation; digests go to ``active`` addresses only.
* **Links.** Signed with ``settings.secret()`` by itsdangerous, each with its own
  salt, so a confirmation link cannot unsubscribe and an unsubscribe link cannot
  confirm. Confirmation links expire after ``settings.confirm_link_hours`` and
  carry a nonce stored with the subscriber, which confirming clears: a used link,
  or one from before an unsubscribe, cannot re-activate the address. Unsubscribe
  links never expire (mail is read late) and need no login.
* **Someone else typing your address.** For an active address nothing changes
  until its owner follows the new confirmation link: the requested cadence and
  topics wait in ``pending_changes``; such a link is sent at most once an hour.
  The web page answers the same in every case, so it reveals nothing about who
  is subscribed. A subscription is linked to an account only when the address is
  the account's own.
* **Rate limits** (counted in the database, so all processes share them): at most
  3 confirmation mails a day to one address and 10 an hour from one client.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from paperfeed.community import RateLimited
from paperfeed.digest.mail import MailBuilder, normalize_email
from paperfeed.errors import InputError, NotFoundError, PermissionDenied
from paperfeed.models.digest import (
    MAX_TOPICS,
    Cadence,
    Subscriber,
    SubscriptionCadence,
    Topic,
    cadence_of,
    subscription_cadence_of,
)
from paperfeed.storage.values import json_text, parse_instant, parse_json

if TYPE_CHECKING:
    from paperfeed.digest.senders import Sender
    from paperfeed.settings import Settings
    from paperfeed.storage import Storage

CONFIRM_SALT = "paperfeed.digest.confirm"
UNSUBSCRIBE_SALT = "paperfeed.digest.unsubscribe"
MANAGE_SALT = "paperfeed.digest.manage"
#: (mails, window) for confirmation mails per address and per client address.
PER_ADDRESS_LIMIT = (3, timedelta(days=1))
PER_CLIENT_LIMIT = (10, timedelta(hours=1))
#: Shortest gap between confirmation mails to an address that is already active.
ACTIVE_RESEND_GAP = timedelta(hours=1)


def _signer_on(clock: Callable[[], datetime]) -> type[TimestampSigner]:
    """A timestamp signer that reads ``clock`` (the delivery's, which tests can set)."""

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockSigner


class Tokens:
    """The signed links of the subscription mails (secret read when first needed)."""

    def __init__(
        self, secret: Callable[[], str], confirm_hours: int, clock: Callable[[], datetime]
    ) -> None:
        self._secret = secret
        self.confirm_hours = confirm_hours
        self._clock = clock
        self._confirm: URLSafeTimedSerializer | None = None
        self._unsubscribe: URLSafeSerializer | None = None
        self._manage: URLSafeSerializer | None = None

    def _serializers(self) -> tuple[URLSafeTimedSerializer, URLSafeSerializer]:
        if self._confirm is None or self._unsubscribe is None:
            secret = self._secret()
            self._confirm = URLSafeTimedSerializer(
                secret, salt=CONFIRM_SALT, signer=_signer_on(self._clock)
            )
            self._unsubscribe = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT)
        return self._confirm, self._unsubscribe

    def confirm_token(self, subscriber_id: int, nonce: str) -> str:
        return str(self._serializers()[0].dumps([subscriber_id, nonce]))

    def read_confirm(self, token: str) -> tuple[int, str]:
        try:
            value = self._serializers()[0].loads(token, max_age=self.confirm_hours * 3600)
        except SignatureExpired:
            raise InputError(
                "this confirmation link has expired; subscribe again to get a new one"
            ) from None
        except BadSignature:
            raise NotFoundError("this is not a valid confirmation link") from None
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
            raise NotFoundError("this is not a valid confirmation link")
        return value[0], str(value[1])

    def unsubscribe_token(self, subscriber_id: int) -> str:
        return str(self._serializers()[1].dumps(subscriber_id))

    def manage_token(self, subscriber_id: int) -> str:
        """The "manage" link of every digest to an address without an account: change
        topics, cadence or size with no login (it never expires, like unsubscribing)."""
        if self._manage is None:
            self._manage = URLSafeSerializer(self._secret(), salt=MANAGE_SALT)
        return str(self._manage.dumps(subscriber_id))

    def read_manage(self, token: str) -> int:
        if self._manage is None:
            self._manage = URLSafeSerializer(self._secret(), salt=MANAGE_SALT)
        try:
            value = self._manage.loads(token)
        except BadSignature:
            raise NotFoundError("this is not a valid link to manage a digest") from None
        if not isinstance(value, int) or isinstance(value, bool):
            raise NotFoundError("this is not a valid link to manage a digest")
        return value

    def read_unsubscribe(self, token: str) -> int:
        try:
            value = self._serializers()[1].loads(token)
        except BadSignature:
            raise NotFoundError("this is not a valid unsubscribe link") from None
        if not isinstance(value, int):
            raise NotFoundError("this is not a valid unsubscribe link")
        return value


def clean_topics(topics: Sequence[Topic | str]) -> list[Topic]:
    """Topics validated (``kind:query`` text accepted), without duplicates."""
    found = [t if isinstance(t, Topic) else Topic.parse(t) for t in topics]
    found = [Topic.make(t.kind, t.query) for t in found]  # re-validate what callers built
    unique = list(dict.fromkeys(found))
    if len(unique) > MAX_TOPICS:
        raise InputError(f"at most {MAX_TOPICS} topics")
    return unique


class SubscriptionsMixin:
    """Subscription methods of :class:`paperfeed.digest.service.Delivery`."""

    settings: Settings
    storage: Storage
    tokens: Tokens
    clock: Callable[[], datetime]

    @property
    def sender(self) -> Sender:  # provided by Delivery
        raise NotImplementedError

    @property
    def mail(self) -> MailBuilder:  # provided by Delivery
        raise NotImplementedError

    # -- subscribing -------------------------------------------------------------------

    def subscribe(
        self,
        email: str,
        *,
        cadence: SubscriptionCadence | str = "daily",
        topics: Sequence[Topic | str] = (),
        user_id: int | None = None,
        client: str = "",
    ) -> Subscriber:
        """Ask for a digest; sends the confirmation mail (nothing else goes to a
        pending address). Raises InputError for bad input, RateLimited when too many
        confirmation mails went to the address or came from ``client``."""
        address, key = normalize_email(email)
        chosen = subscription_cadence_of(cadence)
        wanted = clean_topics(topics)
        now = self.clock()
        owner = self._account_owning(user_id, key)
        store = self.storage.subscriptions
        with self.storage.db.transaction(readonly=True) as tx:
            existing = store.row_by_email(tx, key)
        last_sent = parse_instant(existing["confirm_sent_at"]) if existing else None
        send = not (
            existing is not None
            and existing["status"] == "active"
            and last_sent is not None
            and now - last_sent < ACTIVE_RESEND_GAP
        )
        if send:
            self._check_rate(key, client, now)
        with self.storage.db.transaction() as tx:
            subscriber_id = store.insert(
                tx, email=address, email_key=key, cadence=chosen, at=now, user_id=owner
            )
            if subscriber_id is None:  # the address was there already
                row = store.row_by_email(tx, key)
                assert row is not None
                subscriber_id = int(row["id"])
                if row["status"] == "active":
                    # Someone typed an active address: its owner decides, by confirming.
                    changes = {"cadence": chosen, "topics": [t.as_text() for t in wanted]}
                    if owner is not None:
                        changes["user_id"] = owner
                    store.update(tx, subscriber_id, now, pending_changes=json_text(changes))
                else:
                    store.update(
                        tx, subscriber_id, now, status="pending", cadence=chosen,
                        user_id=owner if owner is not None else row["user_id"],
                        pending_changes=None, unsubscribed_at=None,
                    )  # fmt: skip
                    self._set_topics(tx, subscriber_id, owner, wanted, now)
            else:
                self._set_topics(tx, subscriber_id, owner, wanted, now)
            nonce = None
            if send:
                row = store.row(tx, subscriber_id)
                assert row is not None
                nonce = row["confirm_nonce"] or secrets.token_urlsafe(12)
                store.update(tx, subscriber_id, now, confirm_nonce=nonce)
        if nonce is not None:
            token = self.tokens.confirm_token(subscriber_id, nonce)
            message = self.mail.confirmation(
                address, token, cadence=chosen, topic_count=len(wanted), now=now
            )
            try:
                self.sender.send(message)
            finally:
                self.sender.close()
            # Counted only once sent: a mail server outage must not use up the limits.
            with self.storage.db.transaction() as tx:
                store.update(tx, subscriber_id, now, confirm_sent_at=now)
            store.record_mail("confirm", key, client, now, forget_before=now - PER_ADDRESS_LIMIT[1])
        found = store.get(subscriber_id)
        assert found is not None
        return found

    def _account_owning(self, user_id: int | None, email_key: str) -> int | None:
        """``user_id`` if that account's own address is ``email_key``, else None."""
        if user_id is None:
            return None
        user = self.storage.users.get(user_id)
        if user is None:
            raise NotFoundError(f"no user with id {user_id}")
        return user_id if user.email.strip().lower() == email_key else None

    def _set_topics(
        self, tx: Any, subscriber_id: int, owner: int | None, topics: list[Topic], now: datetime
    ) -> None:
        store = self.storage.subscriptions
        if owner is not None:  # an account's saved searches: added to, never replaced here
            if store.count_topics(tx, user_id=owner) + len(topics) > MAX_TOPICS * 5:
                raise InputError(f"an account can save at most {MAX_TOPICS * 5} searches")
            store.add_topics(tx, topics, now, user_id=owner)
        else:
            store.clear_topics(tx, subscriber_id)
            store.add_topics(tx, topics, now, subscriber_id=subscriber_id)

    def _check_rate(self, email_key: str, client: str, now: datetime) -> None:
        store = self.storage.subscriptions
        checks = [("email_key", email_key, PER_ADDRESS_LIMIT, "to this address")]
        if client:
            checks.append(("client", client, PER_CLIENT_LIMIT, "from your network"))
        for column, value, (limit, window), where in checks:
            times = store.mails_since(column, value, now - window)
            if len(times) >= limit:
                pivot = parse_instant(times[len(times) - limit])
                retry_after = max(1, math.ceil((pivot + window - now).total_seconds()))  # type: ignore[operator]
                minutes = math.ceil(retry_after / 60)
                raise RateLimited(
                    f"too many confirmation mails {where}; try again in {minutes} minute"
                    + ("s" if minutes != 1 else ""),
                    retry_after,
                )

    # -- confirming and unsubscribing --------------------------------------------------

    def confirm(self, token: str) -> Subscriber:
        """Follow a confirmation link: the address becomes active (idempotent)."""
        subscriber_id, nonce = self.tokens.read_confirm(token)
        now = self.clock()
        store = self.storage.subscriptions
        with self.storage.db.transaction() as tx:
            row = store.row(tx, subscriber_id)
            if row is None:
                raise NotFoundError("this subscription no longer exists")
            current = row["confirm_nonce"]
            if current is None or not hmac.compare_digest(current.encode(), nonce.encode()):
                if row["status"] == "active" and row["pending_changes"] is None:
                    return self._subscriber(subscriber_id)  # a second click
                raise InputError(
                    "this confirmation link was already used or replaced by a newer one;"
                    " subscribe again to get a new one"
                )
            values: dict[str, Any] = {
                "status": "active", "confirm_nonce": None, "pending_changes": None,
                "unsubscribed_at": None,
            }  # fmt: skip
            if row["status"] != "active":
                values["confirmed_at"] = now
            changes = parse_json(row["pending_changes"])
            if changes:
                values["cadence"] = changes["cadence"]
                owner = changes.get("user_id", row["user_id"])
                values["user_id"] = owner
                topics = [Topic.parse(text) for text in changes["topics"]]
                self._set_topics(tx, subscriber_id, owner, topics, now)
            store.update(tx, subscriber_id, now, **values)
        return self._subscriber(subscriber_id)

    def unsubscribe(self, token: str) -> Subscriber:
        """Follow an unsubscribe link (RFC 8058 one-click POSTs land here): no login,
        idempotent; pending confirmation links stop working too."""
        subscriber_id = self.tokens.read_unsubscribe(token)
        now = self.clock()
        store = self.storage.subscriptions
        with self.storage.db.transaction() as tx:
            row = store.row(tx, subscriber_id)
            if row is None:
                raise NotFoundError("this subscription no longer exists")
            if row["status"] != "unsubscribed":
                store.update(
                    tx, subscriber_id, now, status="unsubscribed", unsubscribed_at=now,
                    confirm_nonce=None, pending_changes=None,
                )  # fmt: skip
        return self._subscriber(subscriber_id)

    # -- managing without an account (the signed link in every digest) ----------------

    def managed_subscriber(self, token: str) -> Subscriber:
        """The subscription a digest's "manage" link is for. Subscriptions of an account
        are managed by signing in (their topics are the account's saved searches)."""
        found = self._subscriber(self.tokens.read_manage(token))
        if found.user_id is not None:
            raise PermissionDenied("this digest belongs to an account: log in to change it")
        return found

    def manage_by_token(
        self,
        token: str,
        *,
        cadence: Cadence | str | None = None,
        max_papers: int | None = None,
        topics: Sequence[Topic | str] | None = None,
    ) -> Subscriber:
        """Change the cadence, size or topics of an address's digest from its link.
        An unsubscribed address stays unsubscribed: subscribing again takes the
        double opt-in."""
        found = self.managed_subscriber(token)
        if found.status != "active":
            raise InputError("this digest is not active: subscribe again to get it")
        values: dict[str, Any] = {}
        if cadence is not None:
            values["cadence"] = cadence_of(cadence)
        if max_papers is not None:
            if not 1 <= max_papers <= 200:
                raise InputError("papers per digest must be between 1 and 200")
            values["max_papers"] = max_papers
        wanted = clean_topics(topics) if topics is not None else None
        now = self.clock()
        with self.storage.db.transaction() as tx:
            if values:
                self.storage.subscriptions.update(tx, found.id, now, **values)
            if wanted is not None:
                self._set_topics(tx, found.id, None, wanted, now)
        return self._subscriber(found.id)

    def _subscriber(self, subscriber_id: int) -> Subscriber:
        found = self.storage.subscriptions.get(subscriber_id)
        if found is None:
            raise NotFoundError(f"no subscriber with id {subscriber_id}")
        return found
