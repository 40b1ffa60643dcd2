"""The one SMTP client: fan messages go out through it, one connection per sending run, paced.

`PRESAVE_SMTP_URL` names the server: `smtp+starttls://user@host:587` (STARTTLS, the usual submission
port), `smtps://user@host:465` (TLS from the first byte) or `smtp://host:25` (plain: loopback relays and
tests only). The password comes from its own secret setting, never from the URL.

Every reply is sorted into one of three answers the caller records: delivered (the server took the
message: 250 after DATA), refused (a 5xx for this recipient or message: retrying cannot help) or retry
(a 4xx, or the connection was lost before the server took the message).
"""

from __future__ import annotations

import contextlib
import enum
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
TIMEOUT_S = 30.0


class SmtpConfigError(ValueError):
    """PRESAVE_SMTP_URL cannot be used; the message says why (never the password)."""


@dataclass(frozen=True, slots=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    user: str | None

    @property
    def starttls(self) -> bool:
        return self.scheme == "smtp+starttls"

    @property
    def implicit_tls(self) -> bool:
        return self.scheme == "smtps"


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp+starttls://user@host:587` → its parts. A password in the URL is refused: it belongs in
    PRESAVE_SMTP_PASSWORD, where it is kept as a secret."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise SmtpConfigError(
            f"PRESAVE_SMTP_URL: scheme {scheme or '(none)'!r} is not one of {', '.join(DEFAULT_PORTS)}"
        )
    if parts.password is not None:
        raise SmtpConfigError("PRESAVE_SMTP_URL holds a password: put it in PRESAVE_SMTP_PASSWORD instead")
    if not parts.hostname:
        raise SmtpConfigError("PRESAVE_SMTP_URL names no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise SmtpConfigError("PRESAVE_SMTP_URL: the port is not a number from 1 to 65535") from None
    return SmtpServer(scheme, parts.hostname, port, unquote(parts.username) if parts.username else None)


class Answer(enum.StrEnum):
    DELIVERED = "delivered"
    REFUSED = "refused"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Sent:
    answer: Answer
    status: int | None = None  # the SMTP reply code, when there was one
    reason: str = ""  # the server's words (recipient addresses never appear here)
    server_down: bool = False  # no message can go now (unreachable, hung up twice, login refused)


def answer_for(code: int) -> Answer:
    """An SMTP reply code's meaning for the message it answered."""
    if 200 <= code < 300:
        return Answer.DELIVERED
    return Answer.REFUSED if 500 <= code < 600 else Answer.RETRY


def _words(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]


class Pacer:
    """At most `rate` messages a second: waits before each send for the gap the rate leaves."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._gap = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._next = 0.0

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._gap


class Mailer:
    """One connection to the SMTP server for a run; reconnects once when the server drops it."""

    def __init__(
        self,
        server: SmtpServer,
        password: str | None,
        *,
        pacer: Pacer | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self._server, self._password = server, password
        self._pacer = pacer or Pacer(5.0)
        self._timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        server = self._server
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=self._timeout)
        try:
            smtp.ehlo()
            if server.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if server.user:
                smtp.login(server.user, self._password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> Sent:
        """Send one message to its one recipient (To:); a lost connection is retried once on a new one."""
        self._pacer.wait()
        for attempt in range(2):
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                return self._send_on(self._smtp, message)
            except (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError) as exc:
                self._drop()
                if attempt == 1:
                    return Sent(
                        Answer.RETRY, None, f"connection lost: {type(exc).__name__}", server_down=True
                    )
            except smtplib.SMTPAuthenticationError as exc:
                self._drop()
                return Sent(
                    Answer.RETRY, exc.smtp_code, "the SMTP server refused the login", server_down=True
                )
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                return Sent(
                    Answer.RETRY, None, f"SMTP server unreachable: {type(exc).__name__}", server_down=True
                )
        raise AssertionError("unreachable: the second attempt always returns")

    def _send_on(self, smtp: smtplib.SMTP, message: EmailMessage) -> Sent:
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return Sent(answer_for(code), code, _words(reply))
        except smtplib.SMTPSenderRefused as exc:
            self._reset(smtp)
            return Sent(answer_for(exc.smtp_code), exc.smtp_code, _words(exc.smtp_error))
        except smtplib.SMTPDataError as exc:
            self._reset(smtp)
            return Sent(answer_for(exc.smtp_code), exc.smtp_code, _words(exc.smtp_error))
        return Sent(Answer.DELIVERED, 250)

    @staticmethod
    def _reset(smtp: smtplib.SMTP) -> None:
        with contextlib.suppress(smtplib.SMTPException):
            smtp.rset()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None
