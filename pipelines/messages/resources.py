"""The SMTP server as a Dagster resource (the password stays an environment variable)."""

from __future__ import annotations

import dagster as dg

from campaigns.settings import Settings
from pipelines.messages.send import Links
from services.email import Mailer, Pacer, parse_smtp_url


class SmtpResource(dg.ConfigurableResource):
    """Where fan messages go out; an empty `url` means none are sent."""

    url: str = ""
    password: str = ""
    sender: str = "noreply@localhost"
    rate: float = 5.0  # messages per second
    public_url: str = "http://127.0.0.1:8000"

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def mailer(self) -> Mailer:
        return Mailer(parse_smtp_url(self.url), self.password or None, pacer=Pacer(self.rate))

    def links(self) -> Links:
        return Links(self.public_url)


def smtp_resource(settings: Settings) -> SmtpResource:
    return SmtpResource(
        url=settings.smtp_url or "",
        password=dg.EnvVar("PRESAVE_SMTP_PASSWORD") if settings.smtp_password else "",
        sender=settings.message_sender,
        rate=settings.smtp_rate,
        public_url=settings.public_url,
    )
