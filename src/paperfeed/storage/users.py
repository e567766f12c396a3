"""Accounts: users, sign-in sessions, API tokens and failed sign-in attempts.

Only SQL lives here; rules (validation, hashing, rate limits) are in
``paperfeed.community``. Secrets arrive already hashed: this store never sees a
password, a session id or an API token in clear text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paperfeed.models.community import Session, User
from paperfeed.storage.base import Database, Row, Transaction
from paperfeed.storage.values import instant_text, parse_instant

_USER_COLUMNS = "u.id, u.username, u.email, u.is_admin, u.created_at"


def user_from_row(row: Row) -> User:
    return User(
        id=int(row["id"]),
        username=row["username"],
        email=row["email"],
        is_admin=bool(row["is_admin"]),
        created_at=parse_instant(row["created_at"]),  # type: ignore[arg-type]
    )


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users -----------------------------------------------------------------------

    def get(self, user_id: int) -> User | None:
        row = self.db.query_one(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = ?", (user_id,))
        return user_from_row(row) if row else None

    def by_username(self, username: str) -> User | None:
        row = self.db.query_one(
            f"SELECT {_USER_COLUMNS} FROM users u WHERE u.username = ?", (username,)
        )
        return user_from_row(row) if row else None

    def credentials(self, tx: Transaction, login_key: str) -> tuple[User, str] | None:
        """The user whose username or e-mail key is ``login_key``, with the password hash."""
        row = tx.query_one(
            f"SELECT {_USER_COLUMNS}, u.password_hash FROM users u"
            " WHERE u.username = ? OR u.email_key = ? ORDER BY u.id LIMIT 1",
            (login_key, login_key),
        )
        return (user_from_row(row), row["password_hash"]) if row else None

    def password_hash(self, user_id: int) -> str | None:
        return self.db.scalar("SELECT password_hash FROM users WHERE id = ?", (user_id,))

    def taken(self, tx: Transaction, username: str, email_key: str) -> tuple[bool, bool]:
        """Whether the username / the e-mail key already belong to an account."""
        rows = tx.query(
            "SELECT username, email_key FROM users WHERE username = ? OR email_key = ?",
            (username, email_key),
        )
        return (
            any(r["username"] == username for r in rows),
            any(r["email_key"] == email_key for r in rows),
        )

    def lock_signups(self, tx: Transaction) -> None:
        """Serialise account creation until ``tx`` ends (a row lock on PostgreSQL)."""
        tx.execute("UPDATE community_locks SET name = name WHERE name = 'signup'")

    def any_user(self, tx: Transaction) -> bool:
        return tx.query_one("SELECT id FROM users LIMIT 1") is not None

    def insert(
        self,
        tx: Transaction,
        *,
        username: str,
        email: str,
        email_key: str,
        password_hash: str,
        is_admin: bool,
        created_at: datetime,
    ) -> int | None:
        """The new user's id, or None when the username or e-mail is taken (no error:
        a unique-key race between two sign-ups must not abort the transaction)."""
        row = tx.query_one(
            "INSERT INTO users (username, email, email_key, password_hash, is_admin, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (username, email, email_key, password_hash, int(is_admin), instant_text(created_at)),
        )
        return int(row["id"]) if row else None

    def set_password_hash(self, tx: Transaction, user_id: int, password_hash: str) -> None:
        tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))

    def set_admin(self, user_id: int, is_admin: bool) -> bool:
        return bool(
            self.db.execute("UPDATE users SET is_admin = ? WHERE id = ?", (int(is_admin), user_id))
        )

    def list(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        rows = self.db.query(
            f"SELECT {_USER_COLUMNS} FROM users u ORDER BY u.id LIMIT ? OFFSET ?", (limit, offset)
        )
        return [user_from_row(row) for row in rows]

    def count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM users") or 0)

    # -- sessions ----------------------------------------------------------------------

    def insert_session(self, tx: Transaction, token_hash: str, session: Session) -> None:
        tx.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                token_hash,
                session.user_id,
                session.csrf_token,
                instant_text(session.created_at),
                instant_text(session.expires_at),
            ),
        )

    def session(self, token_hash: str, now: datetime) -> tuple[User, Row] | None:
        """The live session's user and row (``csrf_token``, ``created_at``, ``expires_at``)."""
        row = self.db.query_one(
            f"SELECT {_USER_COLUMNS}, s.user_id, s.csrf_token,"
            " s.created_at AS session_created_at, s.expires_at"
            " FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = ? AND s.expires_at > ?",
            (token_hash, instant_text(now)),
        )
        return (user_from_row(row), row) if row else None

    def delete_session(self, token_hash: str) -> bool:
        return bool(self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)))

    def delete_sessions_of(self, tx: Transaction, user_id: int, *, keep: str | None = None) -> int:
        return tx.execute(
            "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?", (user_id, keep or "")
        )

    def delete_expired_sessions(self, tx: Transaction, now: datetime) -> int:
        return tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (instant_text(now),))

    # -- failed sign-in attempts -------------------------------------------------------

    def failures_since(self, column: str, value: str, since: datetime) -> list[str]:
        """Times (ISO text, oldest first) of failures for a login key or a client."""
        if column not in ("login_key", "client"):
            raise ValueError(column)
        rows = self.db.query(
            f"SELECT attempted_at FROM login_attempts WHERE {column} = ? AND attempted_at > ?"
            " ORDER BY attempted_at",
            (value, instant_text(since)),
        )
        return [row["attempted_at"] for row in rows]

    def record_failure(
        self, login_key: str, client: str, at: datetime, *, forget_before: datetime
    ) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO login_attempts (login_key, client, attempted_at) VALUES (?, ?, ?)",
                (login_key, client, instant_text(at)),
            )
            # Rows older than the window can never count again.
            tx.execute(
                "DELETE FROM login_attempts WHERE attempted_at <= ?", (instant_text(forget_before),)
            )

    def forgive_failures(self, tx: Transaction, login_key: str, client: str) -> None:
        tx.execute(
            "DELETE FROM login_attempts WHERE login_key = ? AND client = ?", (login_key, client)
        )

    # -- API tokens ----------------------------------------------------------------------

    def insert_token(
        self, tx: Transaction, user_id: int, name: str, token_hash: str, prefix: str, at: datetime
    ) -> int:
        row = tx.query_one(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            (user_id, name, token_hash, prefix, instant_text(at)),
        )
        assert row is not None
        return int(row["id"])

    def user_for_token(self, token_hash: str) -> tuple[User, int, str | None] | None:
        """The token's user, the token id and when it was last used."""
        row = self.db.query_one(
            f"SELECT {_USER_COLUMNS}, t.id AS token_id, t.last_used_at"
            " FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
            (token_hash,),
        )
        if row is None:
            return None
        return user_from_row(row), int(row["token_id"]), row["last_used_at"]

    def touch_token(self, token_id: int, at: datetime) -> None:
        self.db.execute(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (instant_text(at), token_id)
        )

    def tokens_of(self, user_id: int) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT id, name, prefix, created_at, last_used_at FROM api_tokens"
            " WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return [
            {
                "id": int(row["id"]),
                "name": row["name"],
                "prefix": row["prefix"],
                "created_at": parse_instant(row["created_at"]),
                "last_used_at": parse_instant(row["last_used_at"]),
            }
            for row in rows
        ]

    def delete_token(self, user_id: int, token_id: int) -> bool:
        return bool(
            self.db.execute(
                "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, user_id)
            )
        )
