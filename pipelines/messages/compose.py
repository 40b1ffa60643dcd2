"""The words of each fan message, and the email that carries them (pure: no store, no network)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid

from campaigns.models import MessageKind
from campaigns.rules import SERVICE_NAMES

UNFOLDED = SMTP.clone(max_line_length=998)  # RFC 5322's limit: long links stay on one header line


@dataclass(frozen=True, slots=True)
class Letter:
    """Everything one message needs; `link` is the listen link (release day) or the pre-save page (re-ask)."""

    kind: str
    message_id: int
    to: str
    sender: str
    artist: str
    title: str
    service: str
    link: str
    unsubscribe_url: str
    release_date: str = ""  # the campaign's release day, in words (re-ask)


def subject(letter: Letter) -> str:
    if letter.kind == MessageKind.REASK:
        return f"Pre-save {letter.title} again: your Spotify link runs out first"
    return f"{letter.title} by {letter.artist} is out now"


def body(letter: Letter) -> str:
    service = SERVICE_NAMES.get(letter.service, letter.service)
    if letter.kind == MessageKind.REASK:
        opening = (
            f"You pre-saved {letter.title} by {letter.artist} on {service}. {service} ends an app's access "
            f"six months after you give it, which is before the release on {letter.release_date}, so "
            f"your pre-save would lapse.\n\nOne click renews it (it replaces the old one; nothing is "
            f"saved twice):\n{letter.link}\n"
        )
    elif letter.kind == MessageKind.REMINDER:
        opening = (
            f"{letter.title} by {letter.artist} is out now. You asked us to remind you: this link opens "
            f"it on {service}:\n{letter.link}\n"
        )
        return (
            f"Hi,\n\n{opening}\nYou get this once because you asked for a release-day reminder. One "
            f"click and you get no more messages:\n{letter.unsubscribe_url}\n"
        )
    else:
        opening = (
            f"{letter.title} by {letter.artist} is out now on {service}. You pre-saved it: "
            f"listen here:\n{letter.link}\n"
        )
    return (
        f"Hi,\n\n{opening}\nYou get this because you asked for news from {letter.artist} when you "
        f"pre-saved. One click and you get no more messages:\n{letter.unsubscribe_url}\n"
    )


def compose(letter: Letter, *, date: str | None = None) -> EmailMessage:
    """The email, with one-click unsubscribe headers (RFC 8058) for the fan's mail provider."""
    message = EmailMessage(policy=UNFOLDED)
    message["From"] = letter.sender
    message["To"] = letter.to
    message["Subject"] = subject(letter)
    domain = letter.sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(f"presave.{letter.kind}.{letter.message_id}", domain=domain)
    if date:
        message["Date"] = date
    message["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body(letter))
    return message
