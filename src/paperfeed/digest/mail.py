"""Building the mails: multipart text + HTML from the templates in ``digest/templates``.

Header injection is ruled out by construction: the only header holding anything a
user typed is ``To``, set from an address :func:`normalize_email` validated (no
CR/LF or other control characters, dot-atom syntax), and ``email.policy.SMTP``
refuses line breaks in any header value on top of that. Everything else users
type (topics) goes into the bodies, escaped by the HTML template. The HTML is
table-based with inline styles and no images, scripts or remote resources, which
is what Gmail, Outlook and Apple Mail all render the same way.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from datetime import UTC, date, datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from paperfeed.errors import ConfigError, InputError
from paperfeed.models import Paper
from paperfeed.models.digest import Digest, DigestItem
from paperfeed.models.follows import Alert
from paperfeed.settings import Settings


class _HeaderClasses(HeaderRegistry):
    """The stdlib registry builds a new header class on every lookup (dozens per
    message); the classes hold no state, so one per header name is enough. Together
    with rendering each paper once per run, this takes about a fifth off building a
    digest mail."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = super().__getitem__(name)
        return found


#: RFC 5322 output with CRLF line ends; refuses CR/LF inside header values.
MAIL_POLICY = SMTP.clone(header_factory=_HeaderClasses())
MAX_EMAIL_LENGTH = 254
SNIPPET_CHARS = 280
PAPER_CACHE_SIZE = 5000
_LOCAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-"
)


def normalize_email(text: str) -> tuple[str, str]:
    """``(address, key)``: the address with its domain lower-cased, and the fully
    lower-cased key that makes ``Ada@X.org`` and ``ada@x.org`` one subscription."""
    if not isinstance(text, str):
        raise InputError("an e-mail address is required")
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text):
        raise InputError("an e-mail address must not contain line breaks or control characters")
    text = text.strip()
    local, at, domain = text.rpartition("@")
    shown = text[:80]
    if not at or not local or not domain:
        raise InputError(f"not an e-mail address: {shown!r}")
    if not local.isascii():
        raise InputError("addresses with non-ASCII characters before the @ are not supported")
    if (
        not set(local) <= _LOCAL_CHARS
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise InputError(f"not an e-mail address: {shown!r}")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InputError(f"not an e-mail domain: {domain[:80]!r}") from None
    labels = domain.split(".")
    if len(labels) < 2 or not all(
        0 < len(label) <= 63
        and label.replace("-", "").isalnum()
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    ):
        raise InputError(f"not an e-mail domain: {domain[:80]!r}")
    address = f"{local}@{domain}"
    if len(local) > 64 or len(address) > MAX_EMAIL_LENGTH:
        raise InputError("that e-mail address is too long")
    return address, address.lower()


def site_host(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


def default_from(base_url: str) -> str:
    host = site_host(base_url)
    try:
        ipaddress.ip_address(host)
        host = "localhost"  # an IP is not a mail domain
    except ValueError:
        pass
    return f"paperfeed <paperfeed@{host}>"


class MailBuilder:
    """Renders confirmation and digest mails for one site (``settings.base_url``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.host = site_host(self.base_url)
        self.sender = settings.mail_from or default_from(self.base_url)
        if any(ch in self.sender for ch in "\r\n") or "@" not in self.sender:
            raise ConfigError(f"PAPERFEED_MAIL_FROM is not an address: {self.sender[:80]!r}")
        loader = PackageLoader("paperfeed.digest", "templates")
        common: dict[str, Any] = dict(
            loader=loader, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
        )
        self.html = Environment(autoescape=True, **common)
        self._papers: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.text = Environment(autoescape=False, keep_trailing_newline=True, **common)

    def message_id(self) -> str:
        return make_msgid(domain=self.host)

    def _message(
        self,
        to: str,
        subject: str,
        text: str,
        html: str,
        *,
        now: datetime,
        message_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        address, _ = normalize_email(to)  # again: nothing unvalidated reaches a header
        message = EmailMessage(policy=MAIL_POLICY)
        message["From"] = self.sender
        message["To"] = Address(addr_spec=address)
        message["Subject"] = subject
        message["Date"] = format_datetime(now.astimezone(UTC), usegmt=True)
        message["Message-ID"] = message_id or self.message_id()
        message["MIME-Version"] = "1.0"
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        return message

    # -- confirmation ------------------------------------------------------------------

    def confirmation(
        self, email: str, token: str, *, cadence: str, topic_count: int, now: datetime
    ) -> EmailMessage:
        """The double opt-in mail. Topics are counted, not quoted: whoever typed the
        address must not be able to put their words into a stranger's inbox."""
        subject = "Confirm your paperfeed subscription"
        context = {
            "subject": subject,
            "preheader": "One click to start your paperfeed digest.",
            "base_url": self.base_url,
            "email": email,
            "cadence": cadence,
            "topic_count": topic_count,
            "confirm_url": f"{self.base_url}/subscribe/confirm/{token}",
            "hours": self.settings.confirm_link_hours,
        }
        return self._message(
            email, subject,
            self.text.get_template("confirm.txt").render(context),
            self.html.get_template("confirm.html").render(context),
            now=now,
        )  # fmt: skip

    # -- account mails -----------------------------------------------------------------

    def account_mail(
        self,
        email: str,
        subject: str,
        *,
        lines: list[str],
        button: str | None = None,
        url: str | None = None,
        note: str,
        now: datetime,
    ) -> EmailMessage:
        """A short mail about an account (password reset, a new address): a few lines,
        at most one link, and why it was sent. Nothing a visitor typed goes into it."""
        context = {"subject": subject, "preheader": lines[0] if lines else "",
                   "base_url": self.base_url, "lines": lines, "button": button,
                   "url": url, "note": note}  # fmt: skip
        return self._message(
            email, subject,
            self.text.get_template("account.txt").render(context),
            self.html.get_template("account.html").render(context),
            now=now,
        )  # fmt: skip

    def password_reset(
        self, email: str, token: str, *, minutes: int, now: datetime
    ) -> EmailMessage:
        return self.account_mail(
            email, "Reset your paperfeed password",
            lines=["Someone, hopefully you, asked to reset the password of the paperfeed"
                   f" account that uses {email}."],
            button="Choose a new password", url=f"{self.base_url}/password/reset/{token}",
            note=f"The link works once, for {minutes} minutes. If you did not ask for it,"
                 " ignore this mail: your password stays as it is.",
            now=now,
        )  # fmt: skip

    def email_change(self, email: str, username: str, token: str, *, hours: int,
                     now: datetime) -> EmailMessage:  # fmt: skip
        return self.account_mail(
            email, "Confirm your new paperfeed address",
            lines=[f"The paperfeed account {username} asked to use {email} from now on."],
            button="Use this address", url=f"{self.base_url}/account/email/confirm/{token}",
            note=f"The link works for {hours} hours. Until it is followed the account keeps"
                 " its old address. If you did not ask for this, ignore this mail.",
            now=now,
        )  # fmt: skip

    def email_change_notice(self, email: str, username: str, new_email: str, *,
                            now: datetime) -> EmailMessage:  # fmt: skip
        """To the old address: someone asked to move the account away from it."""
        hidden = new_email[0] + "…@" + new_email.rpartition("@")[2]
        return self.account_mail(
            email, "Your paperfeed address is about to change",
            lines=[f"The paperfeed account {username} asked to use another address ({hidden})"
                   " instead of this one. The change happens when the link mailed there is"
                   " followed."],
            note="If this was not you, sign in and change your password now; the address"
                 " stays as it is until the link is followed.",
            url=f"{self.base_url}/account", button="Open your account", now=now,
        )  # fmt: skip

    # -- digest ------------------------------------------------------------------------

    def digest(
        self,
        digest: Digest,
        unsubscribe_token: str,
        *,
        message_id: str,
        now: datetime,
        manage_token: str | None = None,
    ) -> EmailMessage:
        """The digest mail. ``manage_token``: the signed link that lets an address
        without an account change its digest (else the account's manage page)."""
        count, alerts = len(digest.items), len(digest.alerts)
        period = digest.window_to.strftime("%-d %b %Y")
        parts = [f"{alerts} alert{'s' if alerts != 1 else ''}"] if alerts else []
        if count or not alerts:
            parts.append(f"{count} paper{'s' if count != 1 else ''}")
        subject = f"paperfeed {digest.cadence} digest, {period}: {', '.join(parts)}"
        if not digest.items:
            heading = "No other new papers for you since your last digest."
        elif digest.window_from == digest.window_to:
            heading = f"New papers of {digest.window_to:%A %-d %B %Y}."
        else:
            heading = (
                f"New papers from {digest.window_from:%-d %b} to {digest.window_to:%-d %b %Y}."
            )
        unsubscribe_url = f"{self.base_url}/unsubscribe/{unsubscribe_token}"
        trending = [self._item(item) for item in digest.trending_items]
        followed = [self._item(item) for item in digest.topic_items]
        alert_items = [self._alert(alert) for alert in digest.alerts]
        first = alert_items or trending or followed
        context = {
            "subject": subject,
            "preheader": first[0]["title"] if first else "",
            "alerts": alert_items,
            "heading": heading,
            "base_url": self.base_url,
            "email": digest.subscriber.email,
            "cadence": digest.cadence,
            "trending": trending,
            "followed": followed,
            "sections": [(name, items) for name, items in
                         (("Trending", trending), ("From your topics", followed)) if items],
            "manage_url": f"{self.base_url}/subscribe/manage"
            + (f"/{manage_token}" if manage_token else ""),
            "unsubscribe_url": unsubscribe_url,
        }  # fmt: skip
        headers = {
            "List-Id": f"paperfeed {digest.cadence} digest <{digest.cadence}.digest.{self.host}>",
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            # RFC 8058: the mail client may POST "List-Unsubscribe=One-Click" to the URL.
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Precedence": "bulk",
        }
        return self._message(
            digest.subscriber.email, subject,
            self.text.get_template("digest.txt").render(context),
            self.html.get_template("digest.html").render(context),
            now=now, message_id=message_id, headers=headers,
        )  # fmt: skip

    def group_digest(
        self,
        email: str,
        group_name: str,
        group_id: int,
        kind: str,
        window: tuple[date | None, date | None],
        trending: list[tuple[Paper, int]],
        added: list[tuple[Paper, str]],
        unsubscribe_token: str,
        *,
        message_id: str,
        now: datetime,
    ) -> EmailMessage:
        """A group's digest: its members' most upvoted new papers and the papers added to
        its shared collections."""
        day_from, day_to = window
        cadence = kind.removeprefix("group-")
        subject = f"{group_name}: {len(trending) + len(added)} papers ({cadence})"
        if day_from and day_to and day_from != day_to:
            heading = f"From {day_from:%-d %b} to {day_to:%-d %b %Y} in {group_name}."
        else:
            heading = f"New in {group_name}" + (f" on {day_to:%A %-d %B %Y}." if day_to else ".")

        def shown(paper: Paper, reason: str) -> dict[str, Any]:
            return {**self._paper(paper), "reasons": [reason]}

        voted = [shown(p, f"{n} member upvote{'s' if n != 1 else ''}") for p, n in trending]
        collected = [shown(p, f"added to {name}") for p, name in added]
        group_url = f"{self.base_url}/groups/{group_id}"
        unsubscribe_url = f"{self.base_url}/unsubscribe/{unsubscribe_token}"
        context = {
            "subject": subject, "preheader": (voted or collected)[0]["title"] if voted or collected else "",
            "heading": heading, "base_url": self.base_url, "email": email,
            "group_name": group_name, "group_url": group_url, "cadence": cadence,
            "sections": [(name, items) for name, items in
                         (("Most upvoted by the group", voted),
                          ("Added to the group's collections", collected)) if items],
            "unsubscribe_url": unsubscribe_url,
        }  # fmt: skip
        headers = {
            "List-Id": f"{group_name} on paperfeed <group-{group_id}.digest.{self.host}>",
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Precedence": "bulk",
        }
        return self._message(
            email, subject,
            self.text.get_template("group_digest.txt").render(context),
            self.html.get_template("group_digest.html").render(context),
            now=now, message_id=message_id, headers=headers,
        )  # fmt: skip

    def _alert(self, alert: Alert) -> dict[str, Any]:
        from paperfeed.latex import readable

        code = alert.detail.get("code_url") if alert.kind == "code" else None
        return {
            "headline": alert.headline,
            "title": readable(alert.title),
            "url": f"{self.base_url}/papers/{quote(alert.paper_id, safe='/')}",
            "code_url": code
            if isinstance(code, str) and code.startswith(("https://", "http://"))
            else None,
            "reasons": alert.reasons,
        }

    def _item(self, item: DigestItem) -> dict[str, Any]:
        paper = item.paper
        # The top trending papers are in nearly every digest of a run: render them once.
        key = (paper.id, paper.upvotes, paper.modified_at)
        shown = self._papers.get(key)
        if shown is None:
            if len(self._papers) >= PAPER_CACHE_SIZE:
                self._papers.clear()
            shown = self._papers[key] = self._paper(paper)
        return {**shown, "reasons": item.reasons}

    def _paper(self, paper: Paper) -> dict[str, Any]:
        from paperfeed.latex import readable  # plain-text LaTeX, shared with the pages

        authors = [readable(name) for name in paper.authors[:4]]
        author_text = ", ".join(authors)
        more = max(paper.author_count, len(paper.authors)) - len(authors)
        if more > 0:
            author_text += f" and {more} more" if authors else f"{more} authors"
        abstract = readable(paper.abstract).replace("\n\n", " ")
        if len(abstract) > SNIPPET_CHARS:
            abstract = abstract[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"
        votes = f"{paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}"
        return {
            "title": readable(paper.display_title),
            "url": f"{self.base_url}/papers/{quote(paper.id, safe='/')}",
            # authors, categories, votes: the parts a paper has, for the line under its title
            "facts": [
                part for part in (author_text, " ".join(paper.categories[:3]), votes) if part
            ],
            "snippet": abstract,
        }
