"""The operational store's tables (SQLAlchemy 2 typed ORM). Schema changes go through Alembic."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# BIGINT keys on PostgreSQL; SQLite only auto-increments a plain INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:  # noqa: ARG002 - SQLAlchemy's TypeDecorator signature
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:  # noqa: ARG002 - SQLAlchemy's TypeDecorator signature
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class GrantStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"  # refresh token past its six months, or `invalid_grant` on refresh
    REVOKED = "revoked"  # the fan removed the app's access
    UNVERIFIED = "unverified"  # stored, but the service has not yet accepted the token (Apple's storefront)
    REFUSED = "refused"  # the service never accepted the token (a forged or dead one): never a pre-save
    # the label's Spotify app is in development mode and this account is not on its allowlist: the app
    # can never act for them (403 "User not registered in the Developer Dashboard"); not a direct pre-save
    UNREGISTERED = "unregistered"
    # a reminder pre-save: no token, the fan's email (with consent) and chosen service; on release day a
    # message takes them to the release there (`campaigns.reminders`)
    REMINDER = "reminder"


# a grant counts as a direct pre-save once its service accepted it and the app may act for the account
UNCOUNTED_STATUSES = (
    GrantStatus.UNVERIFIED.value,
    GrantStatus.REFUSED.value,
    GrantStatus.UNREGISTERED.value,
    GrantStatus.REMINDER.value,
)


class EventKind(enum.StrEnum):
    """What a landing event records (the funnel's steps and its exits)."""

    VISIT = "visit"  # the campaign page was served
    CLICK = "click"  # a service button was pressed (recorded client-side or by the connect route)
    AUTHORIZE_START = "authorize_start"  # sent to the service's authorization
    GRANT = "grant"  # the service granted; a grant row exists
    DENIAL = "denial"  # the fan declined at the service
    ERROR = "error"  # the service or the app failed
    COMPLETE = "complete"  # the fan completed the done page
    OPEN_IN_BROWSER = "open_in_browser"  # an in-app browser was told to open the page outside the app
    REMINDER = "reminder"  # a reminder pre-save was signed up for (email with consent, a chosen service)
    REMINDER_CLICK = "reminder_click"  # a release-day reminder's tracked link was followed


class ActionKind(enum.StrEnum):
    """What an owed action does; `target` says to what."""

    SAVE_RELEASE = "save_release"  # target "release": the campaign's release, resolved on release day
    FOLLOW_ARTIST = "follow_artist"  # target: the campaign artist's URI/id, done at grant time
    FOLLOW = "follow"  # target: an extra entity (artist, user, playlist URI) the fan kept ticked
    PREADD = "preadd"  # target: a pre-order album id added at grant time (Apple Music)
    ADD_TO_PLAYLIST = "add_to_playlist"  # target: the fan's playlist id, or "new:<name>" to create one
    IDENTIFY = "identify"  # target "profile": read the fan's account id (`/me`) after the grant was stored


class Outcome(enum.StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    PENDING_SOURCE = "pending_source"  # the release cannot be found on the service yet
    UNDELIVERABLE = "undeliverable"  # revoked, expired or missing scope: retrying cannot help
    FAILED = "failed"  # gave up after retries
    IGNORED = "ignored"  # the service answered yes but did not do it (checked afterwards): not delivered


OUTCOME_LABELS = {  # how reports and the warehouse name each outcome to a person
    Outcome.QUEUED: "queued",
    Outcome.DELIVERED: "delivered",
    Outcome.PENDING_SOURCE: "pending source",
    Outcome.UNDELIVERABLE: "undeliverable",
    Outcome.FAILED: "failed",
    Outcome.IGNORED: "ignored by the service",
}


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    artist: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    upc: Mapped[str | None] = mapped_column(String(14))
    release_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    release_mode: Mapped[str] = mapped_column(String(16), default="global")
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    grants: Mapped[list[Grant]] = relationship(back_populates="campaign", lazy="raise")

    def __repr__(self) -> str:
        return f"Campaign(slug={self.slug!r}, release_at={self.release_at.isoformat()})"


class CampaignVersion(Base):
    """One version of a campaign's file: who put it in, when, and the whole spec (version 1 is the create)."""

    __tablename__ = "campaign_versions"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    spec: Mapped[dict[str, Any]]


class Grant(Base):
    """A fan's authorization for one service on one campaign, with the fan's choices."""

    __tablename__ = "grants"
    # on SQLite, an erased or merged grant's id never comes back: a done-page cookie names a grant by id
    __table_args__ = (
        UniqueConstraint("campaign_id", "service", "service_user_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(16))
    service_user_id: Mapped[str] = mapped_column(String(128))
    fan_key: Mapped[str] = mapped_column(String(32), index=True)
    access_token: Mapped[str] = mapped_column(Text)  # sealed by the vault
    refresh_token: Mapped[str | None] = mapped_column(Text)  # sealed by the vault
    token_expires_at: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(String(400), default="")
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=GrantStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    fan_timezone: Mapped[str | None] = mapped_column(String(64))
    choices: Mapped[dict[str, Any]] = mapped_column(default=dict)
    email: Mapped[str | None] = mapped_column(Text)  # sealed; only with consent
    planned_at: Mapped[datetime | None]  # when the executor last planned this grant's owed actions
    # set when retention deleted the tokens, email and service user id: the grant stays as a count
    tokens_deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="grants", lazy="raise")

    def __repr__(self) -> str:
        return f"Grant(id={self.id}, service={self.service!r}, status={self.status!r})"


class AuthorizationAttempt(Base):
    """One authorization started from the landing page: the single-use `state` and its PKCE verifier."""

    __tablename__ = "authorization_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    # None for a fan proving who they are to erase their data (purpose "forget")
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(16))
    # presave: a new grant; email: the fan opted in and grants the email scope on `grant_id`; forget
    purpose: Mapped[str] = mapped_column(String(16), default="presave", server_default="presave")
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    code_verifier: Mapped[str | None] = mapped_column(Text)  # sealed by the vault
    visit: Mapped[dict[str, Any]] = mapped_column(default=dict)  # UTM and device context of the visit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"AuthorizationAttempt(id={self.id}, service={self.service!r})"


class LandingEvent(Base):
    """Something a visitor did on a campaign page: visit, click, authorize start, grant, denial, error."""

    __tablename__ = "landing_events"
    __table_args__ = (
        Index("ix_landing_events_campaign_time", "campaign_id", "occurred_at"),
        Index("ix_landing_events_grant_id", "grant_id"),
        Index("ix_landing_events_visitor_id", "visitor_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))
    service: Mapped[str | None] = mapped_column(String(16))
    visitor_id: Mapped[str | None] = mapped_column(String(40))
    grant_id: Mapped[int | None] = mapped_column(BigId)
    utm_source: Mapped[str | None] = mapped_column(String(100))
    utm_medium: Mapped[str | None] = mapped_column(String(100))
    utm_campaign: Mapped[str | None] = mapped_column(String(100))
    referrer_domain: Mapped[str | None] = mapped_column(String(255))
    device_class: Mapped[str | None] = mapped_column(String(16))
    in_app_browser: Mapped[str | None] = mapped_column(String(24))
    country: Mapped[str | None] = mapped_column(String(2))
    ip_hash: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(200))


class ConsentRecord(Base):
    """A fan's opt-in, with the exact text they agreed to."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(40))
    text_version: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]


class OwedAction(Base):
    """The ledger: one library action promised to a fan, planned before any call and done once."""

    __tablename__ = "owed_actions"
    __table_args__ = (
        UniqueConstraint("grant_id", "kind", "target"),
        Index("ix_owed_actions_campaign_outcome_due", "campaign_id", "outcome", "due_at"),
        Index("ix_owed_actions_campaign_outcome_grant", "campaign_id", "outcome", "grant_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16), default=Outcome.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]  # set before a call; a crash leaves it set, the next run checks
    attempt_id: Mapped[str | None] = mapped_column(String(40))  # the run and shard that set started_at
    retry_at: Mapped[datetime | None]  # queued, but not to be tried before this moment
    resolved_target: Mapped[str | None] = mapped_column(String(300))  # what `target` was on the service
    done_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageKind(enum.StrEnum):
    """What a fan message says."""

    RELEASE_DAY = "release_day"  # the release is out on the fan's service: listen link
    REASK = "reask"  # the fan's Spotify grant will be too old at release: pre-save again
    REMINDER = "reminder"  # a reminder pre-save's release-day message: a tracked link to the release


class FanMessage(Base):
    """The message ledger: one email owed to a fan (the address under `recipient_key`), planned once per
    campaign and kind, claimed before the SMTP call and finished once. Erasing the grant deletes it."""

    __tablename__ = "fan_messages"
    __table_args__ = (
        UniqueConstraint("campaign_id", "kind", "recipient_key"),
        Index("ix_fan_messages_outcome_due", "outcome", "due_at"),
        Index("ix_fan_messages_grant_id", "grant_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(24))
    recipient_key: Mapped[str] = mapped_column(String(32))  # keyed hash of the address: one per fan
    due_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16), default=Outcome.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]  # set and committed before the SMTP call
    attempt_id: Mapped[str | None] = mapped_column(String(40))
    retry_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)  # the SMTP reply code
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppPacing(Base):
    """One service app's shared pacing (`services.pacing.Pacing`), one row per app, read before every call by
    every process that uses the label's credentials (when Redis is not configured). Times are wall-clock
    seconds since the epoch; `version` makes each change a compare-and-set."""

    __tablename__ = "app_pacing"

    app: Mapped[str] = mapped_column(String(200), primary_key=True)  # `spotify:<client id>`
    rate: Mapped[float | None] = mapped_column(Float)  # calls/s at `set_at`; NULL: unlimited (no 429 yet)
    set_at: Mapped[float] = mapped_column(Float, default=0.0)
    pause_until: Mapped[float] = mapped_column(Float, default=0.0)
    quota_until: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[int] = mapped_column(Integer, default=0)


class ReleaseLink(Base):
    """Where a campaign's release opens on one service, for reminder messages: resolved by UPC/ISRC
    where the service's public API allows, else the campaign file's link. One row per campaign and
    service, written once the link is known (a message is never sent before)."""

    __tablename__ = "release_links"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(16), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16))  # `upc`, `isrc`, `campaign` (the file's link)
    resolved_at: Mapped[datetime] = mapped_column(default=utcnow)


class GrantMerge(Base):
    """A grant folded into an earlier grant of the same account (`campaigns.identity`): what a fan's
    done-page cookie, naming the folded grant, resolves to. Erased with the grant it points to."""

    __tablename__ = "grant_merges"

    merged_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)  # deleted grant
    into_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)


# `identify` (the app reading a grant's account id after it was stored) is the app's bookkeeping, not an
# action for a fan: outcome counts, retention and the warehouse leave it out alike.
FAN_ACTIONS = OwedAction.kind != ActionKind.IDENTIFY
COUNTED_GRANTS = Grant.status.not_in(UNCOUNTED_STATUSES)
# grants of accounts the service knows (a forged or unchecked token is nobody's): their actions are reported
ACCEPTED_GRANTS = Grant.status.not_in((GrantStatus.UNVERIFIED.value, GrantStatus.REFUSED.value))
