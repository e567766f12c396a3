"""The community service: accounts, votes, collections, submissions, follows and groups.

The Library creates one :class:`Community` (``library.community``); web views,
the API and the CLI call it. Methods raise :class:`~paperfeed.errors.InputError`
(with a message fit to show the user), :class:`~paperfeed.errors.PermissionDenied`
(including :class:`RateLimited`) or :class:`~paperfeed.errors.NotFoundError`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher

from paperfeed.community.account_changes import AccountChangesMixin
from paperfeed.community.accounts import AccountsMixin
from paperfeed.community.collections import CollectionsMixin
from paperfeed.community.follows import FollowsMixin
from paperfeed.community.groups import GroupsMixin
from paperfeed.community.profiles import ProfilesMixin
from paperfeed.community.submissions import SubmissionsMixin
from paperfeed.community.votes import VotesMixin
from paperfeed.models import utc_now

if TYPE_CHECKING:
    from paperfeed.storage import Storage


class Community(
    AccountsMixin,
    AccountChangesMixin,
    VotesMixin,
    CollectionsMixin,
    SubmissionsMixin,
    FollowsMixin,
    GroupsMixin,
    ProfilesMixin,
):
    """Community features over ``storage``.

    ``password_hasher`` defaults to argon2-cffi's recommended argon2id parameters;
    hashes made with other parameters still verify and are upgraded at the next
    sign-in. ``clock`` returns the current UTC instant (tests pass a fixed one).
    ``secret`` returns the site's signing secret (group invites, password resets and
    e-mail changes need it); those links expire after ``invite_days``,
    ``reset_minutes`` and ``email_change_hours``.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        password_hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utc_now,
        max_login_failures: int = 5,
        login_window: timedelta = timedelta(minutes=15),
        secret: Callable[[], str] | None = None,
        invite_days: int = 7,
        reset_minutes: int = 60,
        email_change_hours: int = 72,
    ) -> None:
        if max_login_failures < 1:
            raise ValueError("max_login_failures must be at least 1")
        self.storage = storage
        self._hasher = password_hasher or PasswordHasher()
        self._now = clock
        self.max_login_failures = max_login_failures
        self.login_window = login_window
        self._dummy: str | None = None
        self._secret = secret
        self.invite_days = invite_days
        self.reset_minutes = reset_minutes
        self.email_change_hours = email_change_hours
