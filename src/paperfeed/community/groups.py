"""Groups: a lab or a reading group with its own feed, shared collections and digest.

Who sees and does what:

* **Members only.** Everything of a group (its page, feed, members, shared
  collections, digest, Atom feed) is visible to its members only; to anyone else a
  group id answers :class:`NotFoundError`, exactly as an id that does not exist, so
  groups cannot be discovered by probing. The Atom feed is the one exception by
  design: whoever holds its secret token (shown to members; any owner can replace it)
  reads the feed, as feed readers cannot log in.
* **Roles.** The creator is an owner. Owners invite (signed links that expire after
  ``invite_days``; a new link nonce voids every link handed out before), add and
  remove members, make a member an owner or back, rename, replace the feed token and
  delete the group. A group always keeps at least one owner. Members leave when they
  like, add papers to the shared collections and choose their group digest.
* **Shared collections** are collections with the group's id: every member may add
  and remove papers and create new ones; they are never public and have no share
  link, and a member who leaves loses them with the rest of the group, even the ones
  they created.
* **The group feed** ranks papers by the published trending formula
  (:mod:`paperfeed.rank.trending`) applied to the members' votes only: ``upvotes`` is
  how many members voted for a paper, the age and window are the site's.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.community.accounts import secret_digest
from paperfeed.community.signing import timed_serializer
from paperfeed.errors import ConfigError, InputError, NotFoundError, PermissionDenied
from paperfeed.models import Paper
from paperfeed.models.community import Collection
from paperfeed.models.groups import GROUP_DIGESTS, GROUP_ROLES, Group, Member
from paperfeed.rank.trending import (
    TrendingScore,
    age_hours,
    rank_trending,
    trending_score,
    trending_window,
)

if TYPE_CHECKING:
    from paperfeed.storage import Storage

NAME_MAX = 100
DESCRIPTION_MAX = 2000
INVITE_SALT = "paperfeed.groups.invite"
FEED_TOKEN_PREFIX = "pfg_"
#: How many groups one account may create or join.
MAX_GROUPS = 100


def _check_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InputError(f"group name must be 1-{NAME_MAX} characters")
    return cleaned


def _check_description(text: str) -> str:
    cleaned = (text or "").strip()
    if len(cleaned) > DESCRIPTION_MAX:
        raise InputError(f"a group description must be at most {DESCRIPTION_MAX} characters")
    return cleaned


def new_feed_token() -> str:
    return FEED_TOKEN_PREFIX + secrets.token_urlsafe(24)


class GroupsMixin:
    """Group methods of :class:`paperfeed.community.Community`."""

    storage: Storage
    _now: Callable[[], datetime]
    _secret: Callable[[], str] | None
    invite_days: int

    # -- reading ---------------------------------------------------------------------

    def group(self, group_id: int, *, viewer_id: int | None) -> Group:
        """The group, for a member; NotFoundError for anyone else (as if missing)."""
        self.membership(group_id, viewer_id)
        found = self.storage.groups.get(group_id)
        if found is None:
            raise NotFoundError(f"no group {group_id}")
        return found

    def membership(self, group_id: int, viewer_id: int | None) -> Member:
        found = None if viewer_id is None else self.storage.groups.member(group_id, viewer_id)
        if found is None:
            raise NotFoundError(f"no group {group_id}")
        return found

    def is_member(self, group_id: int, user_id: int | None) -> bool:
        return user_id is not None and self.storage.groups.member(group_id, user_id) is not None

    def groups_of(self, user_id: int) -> list[Group]:
        return self.storage.groups.of_user(user_id)

    def group_members(self, group_id: int, *, viewer_id: int | None) -> list[Member]:
        self.membership(group_id, viewer_id)
        return self.storage.groups.members(group_id)

    def find_group(self, ref: str) -> Group:
        """A group by id or (case-insensitive) name, for administrators (the CLI)."""
        text = (ref or "").strip()
        if text.isdigit():
            found = self.storage.groups.get(int(text))
            if found is not None:
                return found
        matches = self.storage.groups.by_name(text)
        if not matches:
            raise NotFoundError(f"no group {text!r}")
        if len(matches) > 1:
            ids = ", ".join(str(g.id) for g in matches)
            raise InputError(f"several groups are named {text!r} (ids {ids}): give the id")
        return matches[0]

    def all_groups(self, *, limit: int = 1000, offset: int = 0) -> list[Group]:
        return self.storage.groups.all(limit=limit, offset=offset)

    # -- creating and changing -------------------------------------------------------

    def create_group(self, user_id: int, name: str, *, description: str = "") -> Group:
        """A new group with ``user_id`` as its owner."""
        name, description = _check_name(name), _check_description(description)
        now = self._now()
        with self.storage.db.transaction() as tx:
            if self.storage.users.get(user_id) is None:
                raise NotFoundError(f"no user with id {user_id}")
            self._check_group_count(user_id)
            group_id = self.storage.groups.insert(
                tx, name=name, description=description,
                invite_nonce=secrets.token_urlsafe(12),
                feed_token_hash=secret_digest(new_feed_token()), created_by=user_id, at=now,
            )  # fmt: skip
            self.storage.groups.add_member(tx, group_id, user_id, "owner", now)
            created = self.storage.groups.get(group_id, tx)
        assert created is not None
        return created

    def _check_group_count(self, user_id: int) -> None:
        if len(self.storage.groups.of_user(user_id)) >= MAX_GROUPS:
            raise InputError(f"an account can be in at most {MAX_GROUPS} groups")

    def require_group_owner(self, group_id: int, actor_id: int | None) -> Member:
        """The actor's membership if they own the group; PermissionDenied for members,
        NotFoundError for everyone else."""
        member = self.membership(group_id, actor_id)
        if member.role != "owner":
            raise PermissionDenied("only an owner of the group can do that")
        return member

    def update_group(
        self, group_id: int, actor_id: int, *, name: str | None = None,
        description: str | None = None,
    ) -> Group:  # fmt: skip
        self.require_group_owner(group_id, actor_id)
        changes = {}
        if name is not None:
            changes["name"] = _check_name(name)
        if description is not None:
            changes["description"] = _check_description(description)
        if changes:
            with self.storage.db.transaction() as tx:
                self.storage.groups.update(tx, group_id, changes, self._now())
        return self.group(group_id, viewer_id=actor_id)

    def delete_group(self, group_id: int, actor_id: int) -> None:
        """Delete the group with its shared collections (owners only)."""
        self.require_group_owner(group_id, actor_id)
        with self.storage.db.transaction() as tx:
            self.storage.groups.delete(tx, group_id)

    # -- members ---------------------------------------------------------------------

    def add_member(
        self, group_id: int, user_id: int, *, actor_id: int | None = None, role: str = "member"
    ) -> Member:
        """Add a user (an owner's act, or the CLI's when ``actor_id`` is None); a member
        already is left as they are."""
        if role not in GROUP_ROLES:
            raise InputError(f"role must be one of {', '.join(GROUP_ROLES)}, not {role!r}")
        if actor_id is not None:
            self.require_group_owner(group_id, actor_id)
        elif self.storage.groups.get(group_id) is None:
            raise NotFoundError(f"no group {group_id}")
        if self.storage.users.get(user_id) is None:
            raise NotFoundError(f"no user with id {user_id}")
        with self.storage.db.transaction() as tx:
            if self.storage.groups.member(group_id, user_id, tx) is None:
                self._check_group_count(user_id)
            self.storage.groups.add_member(tx, group_id, user_id, role, self._now())
            found = self.storage.groups.member(group_id, user_id, tx)
        assert found is not None
        return found

    def set_member_role(self, group_id: int, actor_id: int, user_id: int, role: str) -> Member:
        if role not in GROUP_ROLES:
            raise InputError(f"role must be one of {', '.join(GROUP_ROLES)}, not {role!r}")
        self.require_group_owner(group_id, actor_id)
        with self.storage.db.transaction() as tx:
            self.storage.groups.lock(tx, group_id)
            target = self.storage.groups.member(group_id, user_id, tx)
            if target is None:
                raise NotFoundError("that user is not a member of the group")
            if role == "member" and target.role == "owner":
                self._keep_anrequire_group_owner(tx, group_id, user_id)
            self.storage.groups.set_member(tx, group_id, user_id, role=role)
            changed = self.storage.groups.member(group_id, user_id, tx)
        assert changed is not None
        return changed

    def remove_member(self, group_id: int, actor_id: int, user_id: int) -> None:
        """An owner removes a member, or a member (``actor_id == user_id``) leaves."""
        if actor_id == user_id:
            self.membership(group_id, actor_id)
        else:
            self.require_group_owner(group_id, actor_id)
        with self.storage.db.transaction() as tx:
            self.storage.groups.lock(tx, group_id)
            target = self.storage.groups.member(group_id, user_id, tx)
            if target is None:
                raise NotFoundError("that user is not a member of the group")
            if target.role == "owner":
                self._keep_anrequire_group_owner(tx, group_id, user_id)
            self.storage.groups.remove_member(tx, group_id, user_id)

    def _keep_anrequire_group_owner(self, tx: object, group_id: int, leaving: int) -> None:
        owners = [m for m in self.storage.groups.members(group_id, tx) if m.role == "owner"]  # type: ignore[arg-type]
        if [m.user_id for m in owners] == [leaving]:
            raise InputError(
                "a group needs an owner: make another member an owner first, or delete the group"
            )

    def set_group_digest(self, group_id: int, user_id: int, cadence: str) -> Member:
        """A member's choice of the group digest: off, daily or weekly."""
        if cadence not in GROUP_DIGESTS:
            raise InputError(f"group digest must be one of {', '.join(GROUP_DIGESTS)}")
        self.membership(group_id, user_id)
        with self.storage.db.transaction() as tx:
            self.storage.groups.set_member(tx, group_id, user_id, digest=cadence)
        return self.membership(group_id, user_id)

    # -- invites ---------------------------------------------------------------------

    def _invites(self) -> URLSafeTimedSerializer:
        if self._secret is None:
            raise ConfigError("group invites need the site's secret (Community(secret=...))")
        return timed_serializer(self._secret(), INVITE_SALT, self._now)

    def invite_token(self, group_id: int, actor_id: int) -> str:
        """A signed invite (owners only), valid ``invite_days`` days, unless the owners
        void all links first (:meth:`void_invites`)."""
        self.require_group_owner(group_id, actor_id)
        stored = self.storage.groups.secrets(group_id)
        assert stored is not None
        return str(self._invites().dumps([group_id, stored["invite_nonce"]]))

    def read_invite(self, token: str) -> Group:
        """The group an invite is for (for the invite page), or an error saying why not."""
        try:
            value = self._invites().loads(token, max_age=self.invite_days * 86400)
        except SignatureExpired:
            raise InputError(
                "this invite has expired: ask the group's owner for a new one"
            ) from None
        except BadSignature:
            raise NotFoundError("this is not a valid invite link") from None
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
            raise NotFoundError("this is not a valid invite link")
        group_id, nonce = value
        stored = self.storage.groups.secrets(group_id)
        if stored is None or not hmac.compare_digest(
            str(nonce).encode(), stored["invite_nonce"].encode()
        ):
            raise InputError("this invite was withdrawn: ask the group's owner for a new one")
        found = self.storage.groups.get(group_id)
        assert found is not None
        return found

    def join(self, token: str, user_id: int) -> Member:
        """Join the group an invite is for (again: nothing changes)."""
        group = self.read_invite(token)
        return self.add_member(group.id, user_id)

    def void_invites(self, group_id: int, actor_id: int) -> None:
        self.require_group_owner(group_id, actor_id)
        with self.storage.db.transaction() as tx:
            changes = {"invite_nonce": secrets.token_urlsafe(12)}
            self.storage.groups.update(tx, group_id, changes, self._now())

    # -- the secret Atom feed ----------------------------------------------------------

    def new_group_feed_token(self, group_id: int, actor_id: int) -> str:
        """A new feed token (owners only); the old one stops working. Returned once."""
        self.require_group_owner(group_id, actor_id)
        token = new_feed_token()
        with self.storage.db.transaction() as tx:
            changes = {"feed_token_hash": secret_digest(token)}
            self.storage.groups.update(tx, group_id, changes, self._now())
        return token

    def group_feed_by_token(
        self, group_id: int, token: str, *, limit: int = 50
    ) -> tuple[Group, list[TrendingScore]]:
        """The group and its feed for whoever holds the feed token (the Atom feed)."""
        group = self.group_for_feed(group_id, token)
        return group, self._ranked(group_id, self._now(), 7, limit, 0)[0]

    def group_for_feed(self, group_id: int, token: str) -> Group:
        stored = self.storage.groups.secrets(group_id)
        if (
            stored is None
            or not isinstance(token, str)
            or not hmac.compare_digest(
                secret_digest(token).encode(), stored["feed_token_hash"].encode()
            )
        ):
            raise NotFoundError(f"no group feed {group_id}")
        found = self.storage.groups.get(group_id)
        assert found is not None
        return found

    # -- the feed ----------------------------------------------------------------------

    def group_votes(
        self, group_id: int, *, viewer_id: int | None, now: datetime | None = None,
        window_days: int = 7,
    ) -> dict[str, int]:  # fmt: skip
        """Papers of the site's trending window the members voted for, with how many
        members did: the group feed's candidates and their upvotes."""
        self.membership(group_id, viewer_id)
        now = now or self._now()
        day_from, day_to = trending_window(self.storage.papers.latest_day(), now, window_days)
        found = self.storage.groups.vote_counts(group_id, day_from, day_to)
        return {pid: votes for pid, (votes, _) in found.items()}

    def group_feed(
        self, group_id: int, *, viewer_id: int | None, now: datetime | None = None,
        window_days: int = 7, limit: int = 50, offset: int = 0,
    ) -> tuple[list[TrendingScore], int]:  # fmt: skip
        """A page of the group's feed and how many papers it has in all: papers of the
        trending window its members voted for, ranked by the published formula with
        the members' votes as the upvotes."""
        self.membership(group_id, viewer_id)
        return self._ranked(group_id, now or self._now(), window_days, limit, offset)

    def _ranked(
        self, group_id: int, now: datetime, window_days: int, limit: int, offset: int
    ) -> tuple[list[TrendingScore], int]:
        day_from, day_to = trending_window(self.storage.papers.latest_day(), now, window_days)
        found = self.storage.groups.vote_counts(group_id, day_from, day_to)
        # Rank ids by the formula first (the age needs only the feed day), then load
        # only the page's papers: a busy group's window can hold thousands. The order
        # is rank_trending's (score, newer day, id), which then scores the page.
        ranked = sorted(
            found,
            key=lambda pid: (
                -trending_score(found[pid][0], age_hours(found[pid][1], now)),
                -(found[pid][1] or date.min).toordinal(), pid,
            ),
        )[offset : offset + limit]  # fmt: skip
        votes = {pid: found[pid][0] for pid in ranked}
        page = rank_trending(self.storage.papers.get_many(ranked), now, votes=votes)
        return page, len(found)

    def group_recent_votes(
        self, group_id: int, *, viewer_id: int | None, limit: int = 20
    ) -> list[tuple[Paper, int]]:
        """Papers members voted for, most recent vote first, with how many did (who
        voted is not shown: a member's votes stay theirs)."""
        self.membership(group_id, viewer_id)
        found = self.storage.groups.recent_votes(group_id, limit=limit)
        papers = {p.id: p for p in self.storage.papers.get_many([pid for pid, _, _ in found])}
        return [(papers[pid], votes) for pid, votes, _ in found if pid in papers]

    # -- shared collections ------------------------------------------------------------

    def create_group_collection(
        self, group_id: int, user_id: int, name: str, *, description: str = ""
    ) -> Collection:
        """A collection of the group: any member may add to it; members only see it."""
        self.membership(group_id, user_id)
        return self.create_collection(user_id, name, description=description,  # type: ignore[attr-defined]
                                      group_id=group_id)  # fmt: skip

    def group_collections(self, group_id: int, *, viewer_id: int | None) -> list[Collection]:
        self.membership(group_id, viewer_id)
        return [replace(c, share_token="") for c in self.storage.collections.of_group(group_id)]

    def shared_collections_of(self, user_id: int) -> list[Collection]:
        """The shared collections of every group ``user_id`` is in (to add papers to)."""
        return [replace(c, share_token="") for c in self.storage.collections.of_groups_of(user_id)]
