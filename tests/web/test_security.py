"""Security: escaping, CSRF, sessions, login rate limit, API tokens, headers."""

from __future__ import annotations

import re
from datetime import date

import pytest

from paperfeed.library import Library
from paperfeed.settings import Settings, load_settings
from paperfeed.web.app import create_app
from tests.web.conftest import PASSWORD, Client, add_papers, csrf_token, record

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def hostile(web_library: Library) -> Library:
    add_papers(
        web_library,
        record(
            "2410.66666",
            title=f"Breaking {SCRIPT} $a<b$ & \\textbf{{bold}}",
            abstract=f'We show $\\alpha^{{2}} < \\beta$ & more {SCRIPT} "quoted" <img src=x onerror=alert(2)>',
            authors=[f"Eve {SCRIPT}", 'M\\"uller'],
            code_url="javascript:alert(3)",
            listed_on=date(2024, 10, 25),
        ),
    )
    return web_library


def test_script_in_title_abstract_and_authors_comes_out_escaped(
    client: Client, hostile: Library
) -> None:
    for url in ("/papers/2410.66666", "/papers/date/2024-10-25", "/trending"):
        html = client.get(url).text
        assert SCRIPT not in html, url
        assert "<img src=x" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert "javascript:" not in html, url  # unsafe link schemes are dropped
    paper = client.get("/papers/2410.66666").text
    # inline LaTeX is made readable, then escaped
    assert "Breaking &lt;script&gt;alert(1)&lt;/script&gt; a&lt;b &amp; bold" in paper
    assert "We show α² &lt; β &amp; more" in paper
    assert "Müller" in paper
    assert "&#34;quoted&#34;" in paper or "&quot;quoted&quot;" in paper


def test_json_twin_keeps_raw_text_as_json(client: Client, hostile: Library) -> None:
    response = client.get("/papers/2410.66666.json")
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert SCRIPT in data["paper"]["title"]  # data, not HTML: the client escapes
    assert data["paper"]["code_url"] is None


def test_security_headers(client: Client) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert client.get("/nope").headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text.replace("<script src=", "")  # no inline scripts


def test_post_without_csrf_token_is_403(client: Client, hostile: Library) -> None:
    client.sign_up()
    for url, data in (
        ("/logout", {}),
        ("/papers/2410.66666/upvote", {}),
        ("/collections", {"name": "Reading"}),
        ("/account/tokens", {"name": "laptop"}),
        ("/submit", {"text": "2410.66666"}),
    ):
        response = client.post(url, data=data)
        assert response.status_code == 403, url
        assert "did not come from this site" in response.text
        wrong = client.post(url, data={**data, "csrf_token": "forged"})
        assert wrong.status_code == 403, url
    # nothing happened: still logged in, no vote, no collection
    assert client.get("/papers/2410.66666.json").json()["paper"]["upvotes"] == 0
    assert client.get("/collections.json").json()["mine"] == []
    twin = client.post("/logout.json", data={})
    assert twin.status_code == 403 and "error" in twin.json()


def test_anonymous_forms_need_the_token_signed_for_their_own_cookie(
    client: Client, other_client: Client, web_library: Library
) -> None:
    other_client.sign_up("mallory")
    no_token = client.post("/signup", data={"username": "ada", "email": "a@example.org",
                                            "password": PASSWORD})  # fmt: skip
    assert no_token.status_code == 403
    # a token issued to another browser does not match this browser's cookie
    stolen = csrf_token(other_client.get("/login").text)
    client.get("/login")  # this browser gets its own pf_csrf cookie
    response = client.post("/login", data={"login": "mallory", "password": PASSWORD,
                                           "csrf_token": stolen})  # fmt: skip
    assert response.status_code == 403
    assert client.log_in("mallory").status_code == 303


def test_session_cookie_flags_and_a_new_session_id_at_login(
    client: Client, web_library: Library
) -> None:
    response = client.sign_up()
    cookie = response.headers["set-cookie"]
    assert "pf_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # http://127.0.0.1 in development
    first = client.cookies["pf_session"]
    assert web_library.community.session(first) is not None
    again = client.log_in()
    assert again.status_code == 303 and again.headers["location"] == "/"
    second = client.cookies["pf_session"]
    assert second != first
    assert web_library.community.session(first) is None  # the old id is dead server-side


def test_session_fixation_a_planted_cookie_is_replaced_at_login(
    client: Client, web_library: Library
) -> None:
    web_library.community.create_user("ada", "ada@example.org", PASSWORD)
    client.cookies.set("pf_session", "attacker-chosen-id", domain="testserver.local")
    assert client.log_in().status_code == 303
    assert client.cookies["pf_session"] != "attacker-chosen-id"


def test_logout_ends_the_session(client: Client, web_library: Library) -> None:
    client.sign_up()
    token = client.cookies["pf_session"]
    account = client.get("/account")
    assert account.status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(account.text)})
    assert response.status_code == 303
    assert (
        'pf_session=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    assert web_library.community.session(token) is None
    client.cookies.set("pf_session", token, domain="testserver.local")  # replaying it does not work
    assert client.get("/account").status_code == 303


def test_secure_cookie_when_served_over_https(
    web_library: Library, settings: Settings, portal
) -> None:
    https = load_settings(
        data_dir=settings.data_dir, database_url=settings.resolved_database_url,
        database_schema=settings.database_schema, base_url="https://papers.example.org",
    )  # fmt: skip
    client = Client(create_app(web_library, https), portal, base_url="https://testserver")
    try:
        assert "Secure" in client.get("/login").headers["set-cookie"]  # the pf_csrf cookie
        assert "Secure" in client.sign_up().headers["set-cookie"]
    finally:
        client.close()


def test_login_rate_limit_is_429_with_retry_after(client: Client, web_library: Library) -> None:
    web_library.community.create_user("ada", "ada@example.org", PASSWORD)
    for _ in range(5):
        wrong = client.log_in("ada", "not the password")
        assert wrong.status_code == 403
        assert "wrong username or password" in wrong.text
    limited = client.log_in("ada", PASSWORD)  # even the right password is refused now
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "pf_session" not in client.cookies


def test_sign_ups_from_one_address_are_rate_limited(client: Client) -> None:
    for number in range(5):
        client.sign_up(f"user{number}", f"user{number}@example.org")  # asserts a 303
        client.cookies.delete("pf_session")
    limited = client.form_post(
        "/signup", "/signup",
        {"username": "user5", "email": "user5@example.org", "password": PASSWORD},
    )  # fmt: skip
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "too many sign-ups" in limited.text
    assert "pf_session" not in client.cookies


def test_wrong_password_does_not_say_which_part_was_wrong(
    client: Client, web_library: Library
) -> None:
    web_library.community.create_user("ada", "ada@example.org", PASSWORD)
    unknown_user = client.log_in("nobody", PASSWORD)
    wrong_password = client.log_in("ada", "nope nope nope")
    assert unknown_user.status_code == wrong_password.status_code == 403
    assert "wrong username or password" in unknown_user.text
    assert "wrong username or password" in wrong_password.text


def test_bearer_token_authenticates_json_writes_without_csrf(
    client: Client, other_client: Client, hostile: Library
) -> None:
    client.sign_up()
    page = client.get("/account")
    created = client.post("/account/tokens", data={"csrf_token": csrf_token(page.text),
                                                   "name": "script"})  # fmt: skip
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    token = re.search(r'<code class="token">(pf_[^<]+)</code>', created.text).group(1)  # type: ignore[union-attr]
    headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
    voted = other_client.post("/papers/2410.66666/upvote", headers=headers)
    assert voted.status_code == 200
    assert voted.json() == {"paper_id": "2410.66666", "upvotes": 1, "upvoted": True}
    bad = other_client.post("/papers/2410.66666/upvote",
                            headers={**headers, "authorization": "Bearer pf_wrong"})  # fmt: skip
    assert bad.status_code == 401
    assert "shown again" not in client.get("/account").text  # the token is shown once


def test_redirects_after_login_stay_on_this_site(client: Client, web_library: Library) -> None:
    web_library.community.create_user("ada", "ada@example.org", PASSWORD)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.form_post("/login", "/login", {"login": "ada", "password": PASSWORD,
                                                         "next": target})  # fmt: skip
        assert response.headers["location"] == "/", target
    response = client.form_post("/login", "/login", {"login": "ada", "password": PASSWORD,
                                                     "next": "/trending"})  # fmt: skip
    assert response.headers["location"] == "/trending"


def test_csrf_token_may_come_in_a_multipart_body_or_a_header(
    client: Client, hostile: Library
) -> None:
    client.sign_up()
    token = csrf_token(client.get("/account").text)
    multipart = client.post(
        "/collections",
        data={"csrf_token": token, "name": "From multipart"},
        files={"ignored": ("note.txt", b"x", "text/plain")},
    )
    assert multipart.status_code == 303
    by_header = client.post(
        "/papers/2410.66666/upvote", headers={"x-csrf-token": token, "accept": "application/json"}
    )
    assert by_header.status_code == 200 and by_header.json()["upvoted"] is True
    forged_header = client.post("/papers/2410.66666/unvote", headers={"x-csrf-token": "nope"})
    assert forged_header.status_code == 403


def test_oversized_form_bodies_are_refused(client: Client) -> None:
    response = client.post("/login", content=b"x" * (2 << 20),
                           headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 413
