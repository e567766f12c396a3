"""Collections: a user's named lists of papers, private unless made public.

Who sees what:

* a public collection: everyone (listed in ``public_collections``);
* a private one: its owner, or anyone presenting its share token (the link the
  owner hands out). Everyone else gets the same :class:`NotFoundError` as for an
  id that does not exist, so private collections cannot be discovered by probing.
* Only the owner changes a collection. A non-owner who can see it gets
  :class:`PermissionDenied`; one who cannot gets :class:`NotFoundError`.
* The share token is blanked in every :class:`Collection` returned to anyone but
  the owner, so a page or API response cannot leak it.
* A group's shared collection (``group_id`` set) follows the group's rules instead:
  only current members see it (its creator too only while a member), every member
  adds and removes papers, its creator or a group owner renames or deletes it. It is
  never public, its share link opens nothing and it is listed with the group, not
  with its creator's own collections.
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from paperfeed.community.votes import paper_key
from paperfeed.errors import InputError, NotFoundError, PermissionDenied
from paperfeed.models import Paper
from paperfeed.models.community import Collection

if TYPE_CHECKING:
    from collections.abc import Callable

    from paperfeed.storage import Storage
    from paperfeed.storage.base import Transaction

_GROUP_ONLY = "a group's collection is for its members only: it cannot be public or shared by link"
NAME_MAX = 100
DESCRIPTION_MAX = 2000
SLUG_MAX = 60
_SLUG_RETRIES = 5


def slugify(name: str) -> str:
    """URL-safe slug: accents dropped, runs of anything else become one ``-``."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:SLUG_MAX].strip("-") or "collection"


def free_slug(stem: str, taken: set[str]) -> str:
    if stem not in taken:
        return stem
    number = 2
    while f"{stem}-{number}" in taken:
        number += 1
    return f"{stem}-{number}"


def _slug_fits(slug: str, stem: str) -> bool:
    """Whether ``slug`` is ``stem`` or ``stem-N`` (a rename to the same words keeps it)."""
    return slug == stem or (slug.startswith(stem + "-") and slug[len(stem) + 1 :].isdigit())


def _check_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InputError(f"collection name must be 1-{NAME_MAX} characters")
    return cleaned


def _check_description(description: str) -> str:
    cleaned = (description or "").strip()
    if len(cleaned) > DESCRIPTION_MAX:
        raise InputError(f"collection description must be at most {DESCRIPTION_MAX} characters")
    return cleaned


class CollectionsMixin:
    """Collection methods of :class:`paperfeed.community.Community`."""

    storage: Storage
    _now: Callable[[], datetime]

    # -- changes (owner only) ----------------------------------------------------------

    def create_collection(
        self,
        user_id: int,
        name: str,
        *,
        description: str = "",
        public: bool = False,
        group_id: int | None = None,
    ) -> Collection:
        """A collection of ``user_id``'s, or of a group they are a member of."""
        name = _check_name(name)
        description = _check_description(description)
        if group_id is not None and public:
            raise InputError(_GROUP_ONLY)
        store = self.storage.collections
        stem = slugify(name)
        with self.storage.db.transaction() as tx:
            if self.storage.users.get(user_id) is None:
                raise NotFoundError(f"no user with id {user_id}")
            if group_id is not None and self.storage.groups.member(group_id, user_id, tx) is None:
                raise NotFoundError(f"no group {group_id}")
            for _ in range(_SLUG_RETRIES):  # another tab may take the same slug meanwhile
                new_id = store.insert(
                    tx, owner_id=user_id, name=name,
                    slug=free_slug(stem, store.slugs_of(tx, user_id, stem)),
                    description=description, is_public=bool(public),
                    share_token=secrets.token_urlsafe(16), at=self._now(), group_id=group_id,
                )  # fmt: skip
                if new_id is not None:
                    break
            else:
                raise InputError("could not create the collection; try again")
            created = store.get(new_id, tx)
        assert created is not None
        return created

    def update_collection(
        self,
        user_id: int,
        collection_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        public: bool | None = None,
        new_share_token: bool = False,
    ) -> Collection:
        """Change what is given; a new name gets a new slug; ``new_share_token``
        invalidates the old share link."""
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = _check_description(description)
        if public is not None:
            changes["is_public"] = bool(public)
        if new_share_token:
            changes["share_token"] = secrets.token_urlsafe(16)
        store = self.storage.collections
        with self.storage.db.transaction() as tx:
            current = self._claim(tx, user_id, collection_id)
            if current.group_id is not None and (public or new_share_token):
                raise InputError(_GROUP_ONLY)
            if name is not None:
                changes["name"] = _check_name(name)
                stem = slugify(changes["name"])
                if not _slug_fits(current.slug, stem):  # slugs are unique per owner
                    taken = store.slugs_of(tx, current.owner_id, stem) - {current.slug}
                    changes["slug"] = free_slug(stem, taken)
            if not store.update(tx, collection_id, changes):
                raise InputError("another collection just took that name; try again")
            store.claim(tx, collection_id, current.owner_id, touch=self._now())
            updated = store.get(collection_id, tx)
        assert updated is not None
        return updated

    def rename_collection(self, user_id: int, collection_id: int, name: str) -> Collection:
        return self.update_collection(user_id, collection_id, name=name)

    def delete_collection(self, user_id: int, collection_id: int) -> None:
        with self.storage.db.transaction() as tx:
            self._claim(tx, user_id, collection_id)
            self.storage.collections.delete(tx, collection_id)

    def add_to_collection(self, user_id: int, collection_id: int, paper_id: str) -> bool:
        """Put a paper at the top of the collection; False if it was already there."""
        return self._change_paper(user_id, collection_id, paper_id, add=True)

    def remove_from_collection(self, user_id: int, collection_id: int, paper_id: str) -> bool:
        """Take a paper out; False if it was not there."""
        return self._change_paper(user_id, collection_id, paper_id, add=False)

    def _change_paper(self, user_id: int, collection_id: int, paper_id: str, *, add: bool) -> bool:
        key = paper_key(paper_id)
        store = self.storage.collections
        with self.storage.db.transaction() as tx:
            current = self._claim(tx, user_id, collection_id, papers_only=True)
            if not store.paper_exists(tx, key):
                raise NotFoundError(f"no paper with id {paper_id!r}")
            now = self._now()
            if add:
                changed = store.add_paper(tx, collection_id, key, now)
            else:
                changed = store.remove_paper(tx, collection_id, key)
            if changed:
                store.claim(tx, collection_id, current.owner_id, touch=now)
        return changed

    def _claim(
        self, tx: Transaction, user_id: int, collection_id: int, *, papers_only: bool = False
    ) -> Collection:
        """The collection if ``user_id`` may change it (locked until ``tx`` ends), else an
        error; ``papers_only``: adding or removing papers (any member of a group)."""
        store = self.storage.collections
        shared = store.get(collection_id, tx)
        if shared is not None and shared.group_id is not None:
            member = self.storage.groups.member(shared.group_id, user_id, tx)
            if member is None:
                raise NotFoundError(f"no collection with id {collection_id}")
            if not papers_only and member.role != "owner" and shared.owner_id != user_id:
                raise PermissionDenied(
                    "only its creator or a group owner can change this collection"
                )
            store.claim(tx, collection_id, shared.owner_id)  # the row lock
            return shared
        if store.claim(tx, collection_id, user_id):
            found = store.get(collection_id, tx)
            assert found is not None
            return found
        existing = store.get(collection_id, tx)
        if existing is None or not existing.is_public:
            raise NotFoundError(f"no collection with id {collection_id}")
        raise PermissionDenied("only the owner can change this collection")

    # -- reading -------------------------------------------------------------------------

    def _can_see(self, found: Collection, viewer_id: int | None, share_token: str | None) -> bool:
        if found.group_id is not None:  # members only: no public flag, owner or share link
            return viewer_id is not None and (
                self.storage.groups.member(found.group_id, viewer_id) is not None
            )
        if found.is_public or (viewer_id is not None and viewer_id == found.owner_id):
            return True
        return bool(share_token) and hmac.compare_digest(
            str(share_token).encode(), found.share_token.encode()
        )

    @staticmethod
    def _shown_to(found: Collection, viewer_id: int | None) -> Collection:
        if viewer_id == found.owner_id and found.group_id is None:
            return found
        return replace(found, share_token="")

    def collection(
        self, collection_id: int, *, viewer_id: int | None, share_token: str | None = None
    ) -> Collection:
        found = self.storage.collections.get(collection_id)
        if found is None or not self._can_see(found, viewer_id, share_token):
            raise NotFoundError(f"no collection with id {collection_id}")
        return self._shown_to(found, viewer_id)

    def collection_by_slug(
        self,
        owner_username: str,
        slug: str,
        *,
        viewer_id: int | None,
        share_token: str | None = None,
    ) -> Collection:
        """Same rules as :meth:`collection`, for ``/<user>/<slug>``-style URLs."""
        found = self.storage.collections.by_slug((owner_username or "").strip().lower(), slug)
        if found is None or not self._can_see(found, viewer_id, share_token):
            raise NotFoundError(f"no collection {owner_username}/{slug}")
        return self._shown_to(found, viewer_id)

    def collection_papers(
        self,
        collection_id: int,
        *,
        viewer_id: int | None = None,
        share_token: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Paper]:
        """The papers, most recently added first (same visibility as :meth:`collection`)."""
        self.collection(collection_id, viewer_id=viewer_id, share_token=share_token)
        ids = self.storage.collections.paper_ids(collection_id, limit=limit, offset=offset)
        return self.storage.papers.get_many(ids)

    def collections_of(self, user_id: int, *, public_only: bool = False) -> list[Collection]:
        """A user's collections, recently changed first; ``public_only`` for other viewers."""
        found = self.storage.collections.of_owner(user_id, public_only=public_only)
        return [self._shown_to(c, None if public_only else user_id) for c in found]

    def collections_with_paper(self, paper_id: str, *, viewer_id: int | None) -> list[Collection]:
        """Public collections holding the paper, plus the viewer's own."""
        found = self.storage.collections.with_paper(paper_key(paper_id), viewer_id=viewer_id)
        return [self._shown_to(c, viewer_id) for c in found]

    def public_collections(self, limit: int = 50, offset: int = 0) -> list[Collection]:
        found = self.storage.collections.public(limit=limit, offset=offset)
        return [self._shown_to(c, None) for c in found]
