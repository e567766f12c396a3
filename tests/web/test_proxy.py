"""Behind a reverse proxy: X-Forwarded-For is believed only from the addresses in
PAPERFEED_FORWARDED_ALLOW_IPS, so per-client rate limits see real clients there
and nobody else can pose as another address. Real ``paperfeed serve`` processes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.web.live_server import live_server, paperfeed_env


def wrong_token_statuses(base: str, forwarded_for: str, count: int) -> list[int]:
    headers = {"Authorization": "Bearer pf_wrong", "X-Forwarded-For": forwarded_for}
    return [
        httpx.get(f"{base}/api/whoami-v2", headers=headers, timeout=30).status_code
        for _ in range(count)
    ]


@pytest.mark.parametrize(
    ("allowed", "believed"), [("127.0.0.1", True), ("10.9.8.7", False)], ids=["proxy", "other"]
)
def test_forwarded_for_is_believed_only_from_allowed_proxies(
    tmp_path: Path, allowed: str, believed: bool
) -> None:
    env = paperfeed_env(
        tmp_path / "data",
        PAPERFEED_API_BAD_TOKENS_PER_MINUTE="2",
        PAPERFEED_FORWARDED_ALLOW_IPS=allowed,
    )
    with live_server(env) as base:
        assert wrong_token_statuses(base, "203.0.113.1", 3) == [401, 401, 429]
        # Another client behind the same proxy has its own allowance, if the proxy is trusted.
        expected = [401] if believed else [429]
        assert wrong_token_statuses(base, "203.0.113.2", 1) == expected
