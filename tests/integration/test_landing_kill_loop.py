"""The landing app killed (SIGKILL) again and again while fans come back from Spotify: it runs as
`presave landing` serves it, in a process of its own, restarted on the same port and store each time;
fans (async HTTP clients with their own cookies, through the real OAuth flow against the sandbox in its
own process) start again from the campaign page whenever a request of theirs fails. Afterwards no fan is
lost, none has two grants, and release day saves and follows each exactly once. SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from campaigns.registry import get_campaign
from campaigns.store import Store
from executor.entry import report_lines, run_release_day
from executor.release import ReleaseOptions
from presave.processes import free_port
from sandbox.config import SandboxConfig
from services import apps_from_settings
from services.shared_pacing import pacing_url
from tests.integration.conftest import System, add_campaign, add_release, soon
from tests.integration.crowd import (
    ARTIST_URI,
    Journeys,
    LandingProcess,
    authorized,
    crowd,
    deployment_env,
    grants_by_account,
    ledger,
    library_writes,
    on_own_loop,
    sandbox_get,
    sandbox_process,
    settings_of,
)

pytestmark = pytest.mark.timeout(300)
SLUG = "kill-loop"
UPC = "198880045570"
FANS = [f"kill-fan-{n:02d}" for n in range(60)]
AT_ONCE = 8  # fans in the middle of their flow at any moment
KILLS = 8  # then the app is left running, so every fan can finish
GIVE_UP_S = 120.0


@dataclass
class Deployment:
    system: System  # the sandbox and the store (the landing app runs in `landing`)
    landing: LandingProcess
    campaign_id: int
    album_uri: str


@pytest.fixture
def deployment(tmp_path: Path, store_url: str) -> Iterator[Deployment]:
    with (
        sandbox_process(SandboxConfig(), tmp_path) as (sandbox_url, sandbox_env),
        httpx.Client(base_url=sandbox_url, timeout=30) as admin,
    ):
        port = free_port(0)
        env = deployment_env(tmp_path, store_url, sandbox_env, f"http://127.0.0.1:{port}")
        settings = settings_of(env)
        store = Store.connect(store_url)  # migrated here, as `presave` does before serving
        system = System(settings, store, None, sandbox_url, f"http://127.0.0.1:{port}", admin)  # type: ignore[arg-type]
        admin.post("/sandbox/artists", json={"name": "Nova Lane", "spotify_id": ARTIST_URI.split(":")[-1]})
        release = add_release(system, UPC, datetime.now(UTC) - timedelta(hours=1))  # live at the sandbox
        add_campaign(system, SLUG, UPC, soon(seconds=120))  # a pre-save for the landing app
        with store.session() as session:
            campaign_id = get_campaign(session, SLUG).id
        try:
            with LandingProcess(env, port) as landing:
                yield Deployment(system, landing, campaign_id, release["spotify"]["uri"])
        finally:
            store.dispose()


class KillLoop(threading.Thread):
    """Kills the landing app while a callback is under way, 0.3–1 s after each start, `KILLS` times,
    starting it again each time."""

    def __init__(self, landing: LandingProcess, journeys: Journeys) -> None:
        super().__init__(name="kill-loop", daemon=True)
        self.landing = landing
        self.journeys = journeys
        self.kills = 0
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        rng = random.Random(7)
        try:
            while self.kills < KILLS and not self.finished.wait(rng.uniform(0.3, 1.0)):
                while not self.journeys.in_callback:  # until a fan is in the middle of a callback
                    if self.finished.wait(0.002):
                        return
                self.landing.kill()
                self.kills += 1
                self.landing.start()
        except BaseException as error:  # reported by the test
            self.error = error


def _fans_come_back_while_the_app_is_killed(deployment: Deployment) -> tuple[Journeys, int]:
    journeys = Journeys()
    killer = KillLoop(deployment.landing, journeys)
    killer.start()
    try:
        on_own_loop(
            crowd(
                deployment.landing.url,
                deployment.system.settings.public_url,
                SLUG,
                FANS,
                at_once=AT_ONCE,
                seconds=GIVE_UP_S,
                journeys=journeys,
            )
        )
    finally:
        killer.finished.set()
        killer.join(timeout=120)
    assert killer.error is None, killer.error
    return journeys, killer.kills


def test_a_landing_app_killed_mid_callbacks_loses_no_fan_and_release_day_serves_each_once(
    deployment: Deployment,
) -> None:
    system = deployment.system
    started = time.monotonic()
    journeys, kills = _fans_come_back_while_the_app_is_killed(deployment)
    fans_s = time.monotonic() - started

    assert kills > 0
    assert journeys.at("callback") > 0, (
        f"no callback was ever cut: the test proves nothing ({journeys.setbacks})"
    )
    assert journeys.done == set(FANS)  # every fan saw the done page in the end
    label = system.settings.spotify_client_id
    exchanged = authorized(system.admin, FANS, label)
    assert all(exchanged[fan] >= 1 for fan in FANS)

    before = grants_by_account(system.store, deployment.campaign_id)
    unidentified = sum(n for account, n in before.items() if account.startswith("pending:"))
    settings = system.settings
    spotify = {"spotify": apps_from_settings(settings)["spotify"]}
    later = datetime.now(UTC) + timedelta(minutes=3)  # past the release, and past the landing app's holds
    reports = [
        run_release_day(
            system.store,
            settings.secret_keys(),
            spotify,
            SLUG,
            options=ReleaseOptions(shards=1, threads=4, linger_s=0.5),
            pacing_url=pacing_url(settings),
            pseudonym_secret=settings.pseudonym_secret(),
            now=later,
        )
        for _ in range(2)  # the second finds nothing left to do
    ]
    print(
        f"{len(FANS)} fans, {kills} kills of the landing app in {fans_s:.1f} s, {journeys.tries} tries, "
        f"setbacks {dict(journeys.setbacks)}; codes exchanged {sum(exchanged.values())}; grants before "
        f"release day {before.total()} ({unidentified} "
        "not yet identified)"
    )
    print("\n".join(report_lines(reports[0])))

    assert grants_by_account(system.store, deployment.campaign_id) == dict.fromkeys(FANS, 1)
    actions = ledger(system.store, deployment.campaign_id)
    album = deployment.album_uri
    for fan in FANS:
        mine = sorted(
            (kind, outcome, target) for account, kind, outcome, _, target in actions if account == fan
        )
        assert mine == [
            ("follow_artist", "delivered", ARTIST_URI),
            ("identify", "delivered", "profile"),
            ("save_release", "delivered", "release"),
        ], fan
    writes = library_writes(sandbox_get(system.admin, "/sandbox/spotify/calls", client_id=label)["calls"])
    assert {fan: (writes[(fan, ARTIST_URI)], writes[(fan, album)]) for fan in FANS} == dict.fromkeys(
        FANS, (1, 1)
    )
    assert reports[1].performed == 0
