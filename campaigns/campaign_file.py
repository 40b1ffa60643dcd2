"""The campaign file (YAML): what a label writes to describe one release's pre-save campaign."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from campaigns.rules import LINK_ONLY_SERVICES, SERVICES

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
SPOTIFY_URI = re.compile(r"^spotify:(artist|user|playlist):[A-Za-z0-9]{1,64}$")
RESERVED_SLUGS = {"oauth", "healthz", "static", "forget", "unsubscribe", "favicon.ico", "robots.txt", "r"}


class CampaignFileError(ValueError):
    """The file cannot become a campaign; `problems` lists each field and why."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "; ".join(f"{field}: {why}" for field, why in problems)
        super().__init__(f"{source}: {lines}")


def _matching(pattern: str, problem: str) -> AfterValidator:
    """Text that must match `pattern` in full, else `problem` (`{value!r}` in it names what was given)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(problem.format(value=value))
        return value

    return AfterValidator(check)


SpotifyUri = Annotated[
    str,
    _matching(
        SPOTIFY_URI.pattern,
        "{value!r} is not a Spotify artist, user or playlist URI "
        "(spotify:artist:…, spotify:user:…, spotify:playlist:…)",
    ),
]
SpotifyArtist = Annotated[
    str,
    _matching(
        r"spotify:artist:[A-Za-z0-9]{1,64}",
        "must be a Spotify artist URI like spotify:artist:4Z8W4fKeB5YxbusRsdQVPb",
    ),
]
Upc = Annotated[
    str, _matching(r"\d{12,14}", "must be 12 to 14 digits (quote it in YAML so leading zeros survive)")
]
Isrc = Annotated[
    str, _matching(r"[A-Z]{2}[A-Z0-9]{3}\d{7}", "{value!r} is not an ISRC (CC-XXX-YY-NNNNN without dashes)")
]
HexColour = Annotated[str, _matching(r"#[0-9a-fA-F]{6}", "must be a hex colour like #1db954")]
WebAddress = Annotated[
    str, _matching(r"https?://[^\s/]+\.[^\s]+", "{value!r} is not a web address (https://…)")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpotifyService(_Strict):
    artist: Annotated[SpotifyArtist, Field(description="spotify:artist:… followed at grant time")]
    follow: list[SpotifyUri] = Field(default_factory=list, max_length=3)
    album_id: str | None = None


class AppleService(_Strict):
    album_id: str | None = None
    playlist: bool = False


class DeezerService(_Strict):
    artist_id: str | None = None
    album_id: str | None = None


class LinkService(_Strict):
    """A service the label cannot write to (no public library API): reminder pre-saves only, the fan
    routed to `link` on release day (left out: resolved by UPC/ISRC where the service allows)."""

    link: str | None = Field(default=None, max_length=500)

    @field_validator("link")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"{value!r} must be an https:// URL")
        return value


class Services(_Strict):
    spotify: SpotifyService | None = None
    apple: AppleService | None = None
    deezer: DeezerService | None = None
    amazon_music: LinkService | None = None
    youtube_music: LinkService | None = None
    tidal: LinkService | None = None
    soundcloud: LinkService | None = None

    def offered(self) -> list[str]:
        """The services a pre-save may save on directly (the label's apps)."""
        return [str(name) for name in SERVICES if getattr(self, name) is not None]

    def link_only(self) -> list[str]:
        """The link-only services of the campaign: reminder pre-saves there."""
        return [name for name in LINK_ONLY_SERVICES if getattr(self, name) is not None]

    def link(self, service: str) -> str | None:
        """The campaign file's own link to the release on a link-only service."""
        configured = getattr(self, service, None) if service in LINK_ONLY_SERVICES else None
        return configured.link if isinstance(configured, LinkService) else None


class ConsentTerms(_Strict):
    """Who receives the fan's address and where the privacy policy is: part of the opt-in's words, so a
    change makes a new consent version."""

    label: str | None = Field(default=None, min_length=1, max_length=120)
    privacy_url: WebAddress | None = Field(default=None, max_length=500)


class CampaignSpec(_Strict):
    slug: str
    artist: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=200)
    upc: Upc | None = None
    isrcs: list[Isrc] = Field(default_factory=list)
    release_at: datetime
    timezone: str
    release_mode: Literal["global", "local"] = "global"
    services: Services
    preorder_links: dict[str, str] = Field(default_factory=dict)
    artwork: str | None = None
    accent_color: HexColour = "#1db954"
    playlist_name: str | None = None
    consent: ConsentTerms | None = None  # the label and privacy policy named in the email opt-in
    followups: list[date] = Field(default_factory=list)  # days the artist posted reminders (campaign's zone)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError("must be lower-case letters, digits and dashes (url-safe), at most 64")
        if value in RESERVED_SLUGS:
            raise ValueError(f"{value!r} is reserved by the landing app")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/London") from None
        return value

    @field_validator("preorder_links")
    @classmethod
    def _links(cls, links: dict[str, str]) -> dict[str, str]:
        for name, url in links.items():
            if not url.startswith("https://"):
                raise ValueError(f"{name}: {url!r} must be an https:// URL")
        return links

    @field_validator("services")
    @classmethod
    def _some_service(cls, services: Services) -> Services:
        if not services.offered() and not services.link_only():
            raise ValueError(
                "at least one of spotify, apple, deezer (or a link-only service: "
                + ", ".join(LINK_ONLY_SERVICES)
                + ") is required"
            )
        return services

    @model_validator(mode="after")
    def _release_identified(self) -> CampaignSpec:
        has_own_id = any(
            getattr(svc, "album_id", None)
            for svc in (
                self.services.spotify,
                self.services.apple,
                self.services.deezer,
            )
            if svc
        )
        if not self.upc and not self.isrcs and not has_own_id:
            raise ValueError("upc: is required to find the release (or isrcs, or a service's own album_id)")
        return self

    @property
    def release_at_utc(self) -> datetime:
        """The release moment for `global` mode, as an aware UTC datetime."""
        if self.release_at.tzinfo is not None:  # an explicit offset wins over `timezone`
            return self.release_at.astimezone(UTC)
        return self.release_at.replace(tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=False)


def parse_campaign(document: Any, source: str = "campaign") -> CampaignSpec:
    if not isinstance(document, dict):
        raise CampaignFileError(source, [("(file)", "must be a YAML mapping of campaign fields")])
    try:
        return CampaignSpec.model_validate(document)
    except ValidationError as exc:
        raise CampaignFileError(source, [_describe(error) for error in exc.errors()]) from None


def load_campaign_file(path: Path) -> CampaignSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignFileError(str(path), [("(file)", exc.strerror or "cannot be read")]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise CampaignFileError(
            str(path), [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    return parse_campaign(document, str(path))


def _describe(error: Any) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"]) or "(file)"
    kind = error["type"]
    if kind == "missing":
        return field, "is required"
    if kind == "extra_forbidden":
        return field, "is not a campaign field"
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"] and (named := re.match(r"^([a-z_][\w.]*): (.*)$", message)):
        return named.group(1), named.group(2)
    return field, message
