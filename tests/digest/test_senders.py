"""SMTP (plain, STARTTLS, auth, retries), console and file senders, and their settings."""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import ssl
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from paperfeed.digest.senders import (
    ConsoleSender,
    FileSender,
    PermanentSendError,
    SmtpSender,
    TransientSendError,
    make_sender,
)
from paperfeed.errors import ConfigError
from paperfeed.settings import load_settings
from tests.digest.smtp_server import Credentials, free_port, smtp_server


def message(to: str = "ada@example.org", subject: str = "hello") -> EmailMessage:
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = "paperfeed <digest@papers.example.org>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{subject}@papers.example.org>"
    mail.set_content("Follow https://papers.example.org/subscribe/confirm/abc now.\n")
    return mail


def test_plain_smtp_delivers() -> None:
    with smtp_server() as (mailbox, port):
        sender = SmtpSender("127.0.0.1", port, security="none")
        sender.send(message(subject="one"))
        sender.send(message(subject="two"))  # over the same connection
        sender.close()
    assert [m["Subject"] for m in mailbox.messages] == ["one", "two"]
    assert mailbox.recipients == [["ada@example.org"], ["ada@example.org"]]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_without_tls() -> None:
    credentials = Credentials("digest", "s3cret-pass")
    with smtp_server(authenticator=credentials, auth_required=True,
                     auth_require_tls=False) as (mailbox, port):  # fmt: skip
        SmtpSender("127.0.0.1", port, security="none", username="digest",
                   password="s3cret-pass").send(message())  # fmt: skip
        wrong = SmtpSender("127.0.0.1", port, security="none", username="digest",
                           password="wrong")  # fmt: skip
        with pytest.raises(ConfigError, match="refused the login"):
            wrong.send(message(subject="not sent"))
        anonymous = SmtpSender("127.0.0.1", port, security="none")
        with pytest.raises(PermanentSendError):  # 530 authentication required
            anonymous.send(message(subject="not sent either"))
    assert [m["Subject"] for m in mailbox.messages] == ["hello"]
    assert credentials.attempts >= 2  # the right login, then the wrong one


def test_transient_replies_are_retried_with_backoff() -> None:
    waits: list[float] = []
    with smtp_server() as (mailbox, port):
        mailbox.replies = ["421 4.3.0 busy, try again", "451 4.3.0 temporary failure"]
        sender = SmtpSender("127.0.0.1", port, security="none", retry_base_seconds=2.0,
                            sleep=waits.append)  # fmt: skip
        sender.send(message())
        sender.close()
    assert waits == [2.0, 4.0]  # exponential
    assert mailbox.data_commands == 3
    assert len(mailbox.messages) == 1


def test_retries_are_bounded() -> None:
    waits: list[float] = []
    with smtp_server() as (mailbox, port):
        mailbox.replies = ["421 4.3.0 busy"] * 5
        sender = SmtpSender("127.0.0.1", port, security="none", max_attempts=3,
                            retry_base_seconds=1.0, sleep=waits.append)  # fmt: skip
        with pytest.raises(TransientSendError, match="failed 3 times") as failed:
            sender.send(message())
    assert not failed.value.recipient_only
    assert waits == [1.0, 2.0]
    assert mailbox.messages == []


def test_permanent_refusal_is_not_retried() -> None:
    waits: list[float] = []
    with smtp_server() as (mailbox, port):
        mailbox.replies = ["550 5.1.1 no such mailbox"]
        sender = SmtpSender("127.0.0.1", port, security="none", sleep=waits.append)
        with pytest.raises(PermanentSendError, match="550"):
            sender.send(message())
        sender.send(message(subject="next one"))  # the sender is still usable
        sender.close()
    assert waits == []
    assert [m["Subject"] for m in mailbox.messages] == ["next one"]


def test_unreachable_server_is_transient() -> None:
    waits: list[float] = []
    sender = SmtpSender("127.0.0.1", free_port(), security="none", max_attempts=2,
                        retry_base_seconds=0.5, sleep=waits.append, timeout=5)  # fmt: skip
    with pytest.raises(TransientSendError, match="ConnectionRefusedError"):
        sender.send(message())
    assert waits == [0.5]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    return cert_path, key_path


def test_starttls_with_login(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    credentials = Credentials("digest", "s3cret-pass")
    with smtp_server(tls_context=server_context, require_starttls=True,
                     authenticator=credentials, auth_required=True) as (mailbox, port):  # fmt: skip
        trusting = ssl.create_default_context(cafile=str(cert))
        SmtpSender("127.0.0.1", port, security="starttls", username="digest",
                   password="s3cret-pass", ssl_context=trusting).send(message())  # fmt: skip
        # The system's trust store does not know this certificate: refused, clearly.
        with pytest.raises(ConfigError, match="not trusted"):
            SmtpSender("127.0.0.1", port, security="starttls").send(message(subject="no"))
        # A server requiring STARTTLS refuses mail from a client that skips it.
        with pytest.raises(PermanentSendError):
            SmtpSender("127.0.0.1", port, security="none").send(message(subject="no"))
    assert [m["Subject"] for m in mailbox.messages] == ["hello"]


def test_console_sender_prints_the_text_and_link() -> None:
    out = io.StringIO()
    ConsoleSender(out).send(message())
    printed = out.getvalue()
    assert "Mail to ada@example.org" in printed
    assert "https://papers.example.org/subscribe/confirm/abc" in printed


def test_file_sender_writes_eml(tmp_path: Path) -> None:
    sender = FileSender(tmp_path / "outbox")
    sender.send(message(subject="one"))
    sender.send(message(subject="two"))
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    subjects = {message_from_bytes(f.read_bytes(), policy=policy.default)["Subject"] for f in files}
    assert subjects == {"one", "two"}
    assert not list((tmp_path / "outbox").glob("*.part"))


def test_make_sender_from_settings(tmp_path: Path) -> None:
    assert isinstance(make_sender(load_settings(data_dir=tmp_path)), ConsoleSender)
    file_sender = make_sender(load_settings(data_dir=tmp_path, mail_sender="file"))
    assert isinstance(file_sender, FileSender) and file_sender.folder == tmp_path / "outbox"
    with pytest.raises(ConfigError, match="PAPERFEED_MAIL_FROM"):
        make_sender(load_settings(data_dir=tmp_path, smtp_host="smtp.example.org"))
    with pytest.raises(ConfigError, match="PAPERFEED_SMTP_HOST"):
        make_sender(load_settings(data_dir=tmp_path, mail_sender="smtp", mail_from="a@b.org"))
    smtp = make_sender(load_settings(
        data_dir=tmp_path, smtp_host="smtp.example.org", mail_from="a@b.org",
        smtp_security="tls", smtp_username="u", smtp_password="p",
    ))  # fmt: skip
    assert isinstance(smtp, SmtpSender) and (smtp.port, smtp.security) == (465, "tls")
    assert "p" not in repr(load_settings(data_dir=tmp_path, smtp_password="p").smtp_password)


def test_smtp_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAPERFEED_SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("PAPERFEED_SMTP_PORT", "2525")
    monkeypatch.setenv("PAPERFEED_SMTP_SECURITY", "starttls")
    monkeypatch.setenv("PAPERFEED_SMTP_USERNAME", "digest")
    monkeypatch.setenv("PAPERFEED_SMTP_PASSWORD", "from-env")
    monkeypatch.setenv("PAPERFEED_MAIL_FROM", "paperfeed <digest@example.org>")
    monkeypatch.setenv("PAPERFEED_DIGEST_HOLIDAYS", '["2024-12-25"]')
    settings = load_settings(data_dir=tmp_path)
    sender = make_sender(settings)
    assert isinstance(sender, SmtpSender)
    assert (sender.host, sender.port, sender.username) == ("smtp.example.org", 2525, "digest")
    assert settings.digest_holidays == [dt.date(2024, 12, 25)]
