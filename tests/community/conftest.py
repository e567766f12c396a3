"""Fixtures for the community tests: a Community over the per-engine ``storage``.

The default argon2id parameters cost ~0.4 s per hash on the test machines;
most tests use the same algorithm with small parameters so a suite that creates
a hundred users stays fast. Tests about hashing itself use the defaults.
"""

from __future__ import annotations

import pytest

from paperfeed.community import Community
from paperfeed.storage import Storage
from tests.community.helpers import Clock, fast_hasher


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def community(storage: Storage, clock: Clock) -> Community:
    return Community(storage, password_hasher=fast_hasher(), clock=clock)
