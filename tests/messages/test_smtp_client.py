"""The SMTP client's pure parts: the server URL, what a reply code means, the pacing."""

from __future__ import annotations

import pytest

from services.email import Answer, Pacer, SmtpConfigError, SmtpServer, answer_for, parse_smtp_url


@pytest.mark.parametrize(
    ("url", "server"),
    [
        (
            "smtp+starttls://mailer@smtp.label.example:587",
            SmtpServer("smtp+starttls", "smtp.label.example", 587, "mailer"),
        ),
        (
            "smtp+starttls://mailer%40label.example@smtp.label.example",
            SmtpServer("smtp+starttls", "smtp.label.example", 587, "mailer@label.example"),
        ),
        ("smtps://mailer@smtp.label.example", SmtpServer("smtps", "smtp.label.example", 465, "mailer")),
        ("smtp://127.0.0.1:2525", SmtpServer("smtp", "127.0.0.1", 2525, None)),
    ],
)
def test_the_smtp_url_names_scheme_host_port_and_user(url: str, server: SmtpServer) -> None:
    assert parse_smtp_url(url) == server


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://smtp.label.example", "scheme 'http'"),
        ("smtp+starttls://mailer:hunter2@smtp.label.example:587", "PRESAVE_SMTP_PASSWORD"),
        ("smtp+starttls://", "no host"),
        ("smtp://smtp.label.example:99999", "port"),
    ],
)
def test_an_unusable_smtp_url_is_refused_saying_why_and_never_echoing_a_password(
    url: str, complaint: str
) -> None:
    with pytest.raises(SmtpConfigError, match=complaint) as error:
        parse_smtp_url(url)
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize(
    ("code", "answer"),
    [
        (250, Answer.DELIVERED),
        (450, Answer.RETRY),
        (421, Answer.RETRY),
        (550, Answer.REFUSED),
        (554, Answer.REFUSED),
    ],
)
def test_a_reply_code_decides_between_delivered_retry_and_refused(code: int, answer: Answer) -> None:
    assert answer_for(code) == answer


def test_the_pacer_spaces_sends_by_the_rate() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.wait()
    now[0] += 10.0  # an idle spell earns no burst beyond one send
    pacer.wait()
    pacer.wait()

    assert slept == [0.25, 0.25, 0.25, 0.25, 0.25]
