"""Accounts on both engines: sign-up rules, password storage, sign-in limits, sessions, tokens."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from paperfeed.community import Community, RateLimited
from paperfeed.community.accounts import secret_digest
from paperfeed.errors import InputError, NotFoundError, PermissionDenied
from paperfeed.library import Library
from paperfeed.storage import Storage
from tests.community.helpers import PASSWORD, Clock, database_text, fast_hasher, make_user

# -- sign-up ------------------------------------------------------------------------------


def test_first_sign_up_is_admin_and_later_ones_are_not(community: Community) -> None:
    first = community.sign_up("ada", "ada@example.org", PASSWORD)
    second = community.sign_up("bob", "bob@example.org", PASSWORD)
    assert first.is_admin and not second.is_admin
    assert community.user(first.id) == first
    assert [u.username for u in community.users()] == ["ada", "bob"]


def test_create_user_takes_the_admin_flag_as_given(community: Community) -> None:
    plain = community.create_user("ops", "ops@example.org", PASSWORD)
    assert not plain.is_admin  # the first-user rule is for sign-up only
    assert community.create_user("root", "root@example.org", PASSWORD, admin=True).is_admin
    assert community.set_admin(plain.id, True).is_admin


@pytest.mark.parametrize(
    ("username", "email", "password", "message"),
    [
        ("ab", "a@example.org", PASSWORD, "3-32 characters"),
        ("x" * 33, "a@example.org", PASSWORD, "3-32 characters"),
        ("has space", "a@example.org", PASSWORD, "3-32 characters"),
        ("ädmin", "a@example.org", PASSWORD, "3-32 characters"),
        ("<script>", "a@example.org", PASSWORD, "3-32 characters"),
        ("ada", "not-an-address", PASSWORD, "not an e-mail address"),
        ("ada", "a@b", PASSWORD, "not an e-mail address"),
        ("ada", "a b@example.org", PASSWORD, "not an e-mail address"),
        ("ada", "a@example.org", "123456789", "at least 10 characters"),
        ("ada", "a@example.org", "p" * 1025, "at most 1024 characters"),
    ],
)
def test_sign_up_rejects_bad_input_and_stores_nothing(
    community: Community, username: str, email: str, password: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        community.sign_up(username, email, password)
    assert community.users() == []


def test_usernames_are_lower_cased_and_unique_regardless_of_case(community: Community) -> None:
    ada = community.sign_up("  Ada_L-1 ", "Ada@Example.org", PASSWORD)
    assert ada.username == "ada_l-1" and ada.email == "Ada@Example.org"
    with pytest.raises(InputError, match="username 'ada_l-1' is taken"):
        community.sign_up("ADA_L-1", "other@example.org", PASSWORD)
    with pytest.raises(InputError, match="e-mail address already exists"):
        community.sign_up("someone", "ada@EXAMPLE.ORG", PASSWORD)
    assert len(community.users()) == 1
    assert community.user_by_username("ADA_L-1").id == ada.id
    with pytest.raises(NotFoundError):
        community.user_by_username("nobody")


def test_concurrent_first_sign_ups_make_exactly_one_admin(storage: Storage) -> None:
    community = Community(storage, password_hasher=fast_hasher())
    errors: list[BaseException] = []
    count = 16
    start = threading.Barrier(count)

    def sign_up(i: int) -> None:
        try:
            start.wait()  # all at once, to give a race its best chance
            community.sign_up(f"user{i}", f"user{i}@example.org", PASSWORD)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    users = community.users()
    assert len(users) == count
    assert sum(u.is_admin for u in users) == 1


# -- password storage ------------------------------------------------------------------------


def test_password_is_hashed_with_argon2id_and_stored_nowhere_in_clear(
    library: Library, tmp_path: Path
) -> None:
    # The Library's own Community: the production hasher parameters.
    secret = "Tr0ub4dor&3-unique-marker"
    user = library.community.sign_up("ada", "ada@example.org", secret)
    stored = library.storage.users.password_hash(user.id)
    assert stored is not None and stored.startswith("$argon2id$")
    assert secret not in database_text(library.storage)
    if library.storage.db.dialect == "sqlite":  # the raw file and its WAL, too
        data_dir = library.settings.data_dir
        raw = b"".join(p.read_bytes() for p in data_dir.glob("paperfeed.db*"))
        assert raw and secret.encode() not in raw
    assert library.community.authenticate("ada", secret) == user


def test_hashes_are_upgraded_when_parameters_change(storage: Storage) -> None:
    old = Community(storage, password_hasher=fast_hasher())
    user = make_user(old, "ada")
    before = storage.users.password_hash(user.id)
    assert before is not None and "t=1," in before
    new = Community(storage, password_hasher=fast_hasher(time_cost=2))
    assert new.authenticate("ada", PASSWORD) == user
    after = storage.users.password_hash(user.id)
    assert after is not None and after.startswith("$argon2id$") and "t=2," in after
    assert new.authenticate("ada", PASSWORD) == user  # still signs in with the new hash


def test_change_password_ends_other_sessions(community: Community) -> None:
    ada = make_user(community, "ada")
    here, elsewhere = community.start_session(ada.id), community.start_session(ada.id)
    with pytest.raises(PermissionDenied, match="wrong password"):
        community.change_password(ada.id, "not my password", "a brand new password")
    community.change_password(ada.id, PASSWORD, "a brand new password", keep_session=here.token)
    assert community.session(here.token) is not None
    assert community.session(elsewhere.token) is None
    with pytest.raises(PermissionDenied):
        community.authenticate("ada", PASSWORD)
    assert community.authenticate("ada", "a brand new password") == ada


# -- sign-in -----------------------------------------------------------------------------------


def test_authenticate_by_username_or_email(community: Community) -> None:
    ada = make_user(community, "ada")
    assert community.authenticate("ada", PASSWORD) == ada
    assert community.authenticate("  ADA ", PASSWORD) == ada
    assert community.authenticate("Ada@Example.org", PASSWORD) == ada


def test_wrong_password_and_unknown_user_get_the_same_message(community: Community) -> None:
    make_user(community, "ada")
    with pytest.raises(PermissionDenied) as wrong_password:
        community.authenticate("ada", "not the password")
    with pytest.raises(PermissionDenied) as unknown_user:
        community.authenticate("nobody", PASSWORD)
    with pytest.raises(PermissionDenied) as empty:
        community.authenticate("", "")
    assert str(wrong_password.value) == str(unknown_user.value) == str(empty.value)
    assert str(wrong_password.value) == "wrong username or password"
    assert not isinstance(wrong_password.value, RateLimited)


def _fail(community: Community, login: str, client: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(PermissionDenied) as caught:
            community.authenticate(login, "wrong password!", client=client)
        assert not isinstance(caught.value, RateLimited)


def test_five_failures_lock_the_account_without_checking_the_password(
    community: Community, clock: Clock
) -> None:
    ada = make_user(community, "ada")
    for _ in range(5):
        _fail(community, "ada", "198.51.100.1", 1)
        clock.advance(minutes=1)
    # Now 5 minutes after the first failure: even the right password is refused,
    # from any client, until the first failure is 15 minutes old.
    with pytest.raises(RateLimited) as limited:
        community.authenticate("ada", PASSWORD, client="203.0.113.9")
    assert limited.value.retry_after == 10 * 60
    assert "try again in 10 minutes" in str(limited.value)
    assert isinstance(limited.value, PermissionDenied)
    clock.advance(minutes=10)
    assert community.authenticate("ada", PASSWORD, client="203.0.113.9") == ada


def test_username_and_email_count_against_the_same_account(community: Community) -> None:
    make_user(community, "ada")
    _fail(community, "ada", "", 3)
    _fail(community, "ada@example.org", "", 2)
    with pytest.raises(RateLimited):
        community.authenticate("ada", PASSWORD)


def test_unknown_logins_are_limited_too(community: Community) -> None:
    _fail(community, "ghost", "", 5)
    with pytest.raises(RateLimited):
        community.authenticate("ghost", PASSWORD)


def test_five_failures_from_one_client_lock_that_client_only(
    community: Community, clock: Clock
) -> None:
    ada = make_user(community, "ada")
    for name in ("u1", "u2", "u3", "u4", "u5"):  # spraying one guess over many accounts
        _fail(community, name, "198.51.100.66", 1)
    with pytest.raises(RateLimited) as limited:
        community.authenticate("ada", PASSWORD, client="198.51.100.66")
    assert limited.value.retry_after == 15 * 60
    assert community.authenticate("ada", PASSWORD, client="203.0.113.1") == ada


def test_success_forgives_only_the_same_clients_failures(community: Community) -> None:
    ada = make_user(community, "ada")
    make_user(community, "mallory")
    # Ada mistypes 4 times, then gets it right: her failures are forgiven ...
    _fail(community, "ada", "ada-laptop", 4)
    assert community.authenticate("ada", PASSWORD, client="ada-laptop") == ada
    _fail(community, "ada", "ada-laptop", 4)
    assert community.authenticate("ada", PASSWORD, client="ada-laptop") == ada
    # ... but an attacker's failures against her account are not, even after she signs in,
    _fail(community, "ada", "attacker", 4)
    assert community.authenticate("ada", PASSWORD, client="ada-laptop") == ada
    _fail(community, "ada", "attacker", 1)
    with pytest.raises(RateLimited):
        community.authenticate("ada", "guess number six", client="attacker")
    # and signing in to one's own account does not reset the per-client counter.
    _fail(community, "bob", "mallory-ip", 4)
    community.authenticate("mallory", PASSWORD, client="mallory-ip")
    _fail(community, "carol", "mallory-ip", 1)
    with pytest.raises(RateLimited):
        community.authenticate("mallory", PASSWORD, client="mallory-ip")


def test_refused_attempts_do_not_extend_the_lock(community: Community, clock: Clock) -> None:
    ada = make_user(community, "ada")
    _fail(community, "ada", "", 5)
    for _ in range(14):
        clock.advance(minutes=1)
        with pytest.raises(RateLimited):
            community.authenticate("ada", PASSWORD)
    clock.advance(minutes=1)
    assert community.authenticate("ada", PASSWORD) == ada


# -- sessions ---------------------------------------------------------------------------------


def test_sessions_resolve_expire_and_end(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ada = make_user(community, "ada")
    session = community.start_session(ada.id, lifetime=timedelta(hours=1))
    assert len(session.token) >= 43 and len(session.csrf_token) >= 43
    assert session.token != session.csrf_token
    user, found = community.session(session.token)  # type: ignore[misc]
    assert user == ada and found == session
    stored = storage.db.query("SELECT token_hash FROM sessions")
    assert stored == [{"token_hash": secret_digest(session.token)}]
    assert session.token not in database_text(storage)
    assert community.session("not-a-token") is None
    assert community.session("") is None

    clock.advance(minutes=59)
    assert community.session(session.token) is not None
    clock.advance(minutes=1)
    assert community.session(session.token) is None  # expired at expires_at exactly

    other = community.start_session(ada.id)  # also clears the expired row
    assert storage.db.scalar("SELECT COUNT(*) FROM sessions") == 1
    community.end_session(other.token)
    assert community.session(other.token) is None
    community.end_session(other.token)  # ending twice is harmless


def test_end_all_sessions(community: Community) -> None:
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    tokens = [community.start_session(ada.id).token for _ in range(3)]
    bobs = community.start_session(bob.id)
    assert community.end_all_sessions(ada.id) == 3
    assert all(community.session(token) is None for token in tokens)
    assert community.session(bobs.token) is not None


def test_session_for_unknown_user_or_bad_lifetime(community: Community) -> None:
    with pytest.raises(NotFoundError):
        community.start_session(999)
    ada = make_user(community, "ada")
    with pytest.raises(InputError):
        community.start_session(ada.id, lifetime=timedelta(0))


# -- API tokens -------------------------------------------------------------------------------


def test_api_tokens_are_shown_once_and_stored_hashed(
    community: Community, storage: Storage, clock: Clock
) -> None:
    ada, bob = make_user(community, "ada"), make_user(community, "bob")
    token = community.create_api_token(ada.id, "  laptop script ")
    assert token.startswith("pf_") and len(token) > 40
    assert token not in database_text(storage)
    assert storage.db.scalar("SELECT token_hash FROM api_tokens") == secret_digest(token)

    assert community.user_for_api_token(token) == ada
    assert community.user_for_api_token(token + "x") is None
    assert community.user_for_api_token("pf_") is None
    assert community.user_for_api_token("") is None

    [listed] = community.api_tokens(ada.id)
    assert listed["name"] == "laptop script" and listed["prefix"] == token[:10]
    assert listed["last_used_at"] == clock.now
    assert token not in repr(listed)
    assert community.api_tokens(bob.id) == []

    with pytest.raises(NotFoundError):
        community.revoke_api_token(bob.id, listed["id"])  # not Bob's to revoke
    assert community.user_for_api_token(token) == ada
    community.revoke_api_token(ada.id, listed["id"])
    assert community.user_for_api_token(token) is None
    with pytest.raises(InputError):
        community.create_api_token(ada.id, "   ")
    with pytest.raises(NotFoundError):
        community.create_api_token(999, "x")
