"""The one error scheme of every service client: what went wrong, in terms a caller can act on.

Every client turns its service's answers (HTTP statuses, Deezer's `{"error": …}` bodies, OAuth error codes,
network errors) into a `ServiceFailure` of one `Failure` kind, or a `GrantLost`. Messages and codes name the
service, the call and the status; never a token, an email or a URL (Deezer's carry the fan's token).
"""

from __future__ import annotations

from enum import StrEnum

QUOTA_PAUSE_S = 300.0  # a Retry-After longer than this is a spent quota, not a throttle: reschedule


class Failure(StrEnum):
    THROTTLED = "throttled"  # 429 with its Retry-After: every caller of the app waits, then again
    QUOTA_SPENT = "quota_spent"  # Spotify's QUOTA_EXCEEDED, or a Retry-After of hours: reschedule, no call
    UNAUTHORIZED = "unauthorized"  # the access token was refused: refresh once
    FORBIDDEN = "forbidden"  # missing scope, not the fan's playlist, no subscription: skip with reason
    NOT_FOUND = "not_found"  # the target is not there (yet) for this fan: try again later
    TRANSIENT = "transient"  # 5xx, timeout, dropped connection: outcome unknown, back off and check
    REFUSED = "refused"  # the request itself was refused (400, a bad code): retrying cannot help
    GRANT_LOST = "grant_lost"  # the fan's authorization is gone for good


WAIT_KINDS = frozenset({Failure.THROTTLED, Failure.QUOTA_SPENT})
REFUSED_KINDS = frozenset({Failure.REFUSED, Failure.FORBIDDEN, Failure.UNAUTHORIZED, Failure.GRANT_LOST})


class ServiceError(Exception):
    """Any failure of a service call. `code` is short and safe to log and store (e.g. `me_401`,
    `error_300`, `invalid_grant`); `refused` is true when the service said no to what was brought (a bad
    code or token, a missing scope) rather than failing."""

    kind: Failure

    def __init__(
        self, kind: Failure, message: str, *, service: str = "", code: str | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.service = service
        self.code = (code or kind.value)[:80]
        self.detail = detail[:160]  # the service's own words, when it gave any

    @property
    def refused(self) -> bool:
        return self.kind in REFUSED_KINDS

    @property
    def must_wait(self) -> bool:
        """Throttled or quota spent: the app must make no call until `retry_after` has passed."""
        return self.kind in WAIT_KINDS


class ServiceFailure(ServiceError):
    """A call failed; `status` is the HTTP status (if one came back), `retry_after` the seconds the service
    asked to wait, `app_wide` whether the whole app is throttled (Spotify, Apple) or only this fan (Deezer)."""

    def __init__(
        self,
        kind: Failure,
        message: str,
        *,
        service: str = "",
        code: str | None = None,
        detail: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        app_wide: bool = True,
    ) -> None:
        super().__init__(kind, message, service=service, code=code, detail=detail)
        self.status = status
        self.retry_after = retry_after
        self.app_wide = app_wide


class GrantLost(ServiceError):
    """The fan's authorization is gone for good (`invalid_grant`, a revoked token): never retried.
    `status` is the grant's new status (`expired` or `revoked`)."""

    def __init__(self, status: str, reason: str, *, service: str = "") -> None:
        super().__init__(
            Failure.GRANT_LOST, f"grant {status}: {reason}", service=service, code=f"grant_{status}"
        )
        self.status = status
        self.reason = reason


def throttled(
    service: str,
    what: str,
    retry_after: float | None,
    *,
    quota: bool = False,
    app_wide: bool = True,
    sent: bool = True,
) -> ServiceFailure:
    """A 429 (or a quota code): QUOTA_SPENT when the service says so or asks to wait past `QUOTA_PAUSE_S`.
    `sent=False`: the call was not made (the app was already told to wait), so there is no status."""
    spent = quota or (retry_after is not None and retry_after > QUOTA_PAUSE_S)
    kind = Failure.QUOTA_SPENT if spent else Failure.THROTTLED
    wait = f", retry after {retry_after:.0f} s" if retry_after is not None else ""
    return ServiceFailure(
        kind,
        f"{service} {what}: {'quota spent' if spent else '429'}{wait}",
        service=service,
        code=kind.value,
        status=429 if sent else None,
        retry_after=retry_after,
        app_wide=app_wide,
    )


PACING_AWAY_S = 30.0  # work held back while an app's shared pacing cannot be read is due again after this


class PacingUnavailable(ServiceFailure):
    """The app's shared pacing (Redis, or the operational store's `app_pacing`) did not answer, so whether
    the app is told to wait cannot be known: nothing is sent. A caller treats it as a pause of
    `retry_after` seconds (the work stays owed, queued); `where` names the backend, never its URL."""

    def __init__(self, app: str, where: str, error: BaseException) -> None:
        service = app.split(":", 1)[0]  # the app's key without its client id
        super().__init__(
            Failure.THROTTLED,
            f"{service}: the app's pacing could not be read ({where}: {type(error).__name__}); nothing sent",
            service=service,
            code="pacing_unavailable",
            retry_after=PACING_AWAY_S,
        )


def by_status(service: str, what: str, status: int, detail: str = "") -> ServiceFailure:
    """A non-2xx answer other than 429, by its status alone."""
    if status == 401:
        kind = Failure.UNAUTHORIZED
    elif status == 403:
        kind = Failure.FORBIDDEN
    elif status == 404:
        kind = Failure.NOT_FOUND
    elif status >= 500:
        kind = Failure.TRANSIENT
    else:
        kind = Failure.REFUSED
    text = f"{service} {what}: {status} {detail}".rstrip()
    code = f"{what.replace(' ', '_')}_{status}"
    return ServiceFailure(kind, text, service=service, code=code, detail=detail, status=status)


def network(service: str, what: str, exc: BaseException) -> ServiceFailure:
    """A timeout or a dropped connection: the outcome is unknown."""
    name = "timeout" if "Timeout" in type(exc).__name__ else type(exc).__name__
    return ServiceFailure(Failure.TRANSIENT, f"{service} {what}: {name}", service=service, code=name)


def parse_retry_after(value: object) -> float | None:
    try:
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
