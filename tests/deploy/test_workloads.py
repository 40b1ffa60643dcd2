"""Every workload of deploy/k8s started on loopback exactly as its manifest gives it (command, arguments,
environment, mounts, read-only where it says, its user), in the first-start order of docs/operations.md,
then asked its probes (tests/deploy/pods.py says how). The cluster's services are this machine's:
PostgreSQL (a fresh database for the store, one for Dagster), Redis, the Celery broker."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from campaigns.store import Store
from tests.conftest import PSEUDONYM_KEY, fresh_database
from tests.deploy.conftest import DEPLOY, dagster_postgres_url, require_broker
from tests.deploy.pods import Cluster, find, run_container

pytestmark = [pytest.mark.postgres, pytest.mark.celery, pytest.mark.timeout(300)]
REDIS_DB = 14  # the landing pods' rate limits and the workers' broker; the limits' keys emptied before use


@dataclass
class Loopback:
    cluster: Cluster
    store_url: str  # direct, as the migration Job and the workers reach it
    dagster_url: str


def apple_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def pooled(store_url: str, port: int = 6432) -> str:
    """The store's URL through PgBouncer, as secrets.example.yaml writes PRESAVE_POOLED_DATABASE_URL."""
    url = make_url(store_url).set(host="127.0.0.1", port=port, database="presave", password="pooler-secret")
    return url.update_query_dict({"prepare_threshold": "none"}).render_as_string(hide_password=False)


def pgbouncer_ini(store_url: str) -> str:
    """The shipped pgbouncer.ini, its one database line pointed at this machine's PostgreSQL (the cluster's
    DNS name does not resolve here); every other line as shipped."""
    shipped = find(kind="ConfigMap", name="presave-pgbouncer")["data"]["pgbouncer.ini"]
    database = make_url(store_url).database
    return re.sub(
        r"host=\S+ port=5432 dbname=presave", f"host=127.0.0.1 port=5432 dbname={database}", shipped, count=1
    )


@pytest.fixture
def loopback(postgres_server_url: str) -> Iterator[Loopback]:
    if os.geteuid() != 0:  # mount and UTS namespaces, bind mounts, another user: tests/deploy/pods.py
        message = "the workloads run in namespaces of their own, which needs root"
        if os.environ.get("PRESAVE_REQUIRE_CELERY") == "1":
            pytest.fail(message)
        pytest.skip(message)
    require_broker("redis")
    limits = redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}")
    for key in limits.scan_iter("presave-landing*"):
        limits.delete(key)
    scratch = Path(tempfile.mkdtemp(prefix="presave-pods-"))
    scratch.chmod(0o755)  # the pods' user (10001) reaches its volumes under it
    try:
        with (
            fresh_database(postgres_server_url) as store_url,
            fresh_database(postgres_server_url) as dagster_url,
        ):
            user = make_url(store_url).username
            cluster = Cluster(scratch)
            cluster.claims["presave-data"] = scratch / "presave-data"
            cluster.claims["presave-data"].mkdir()
            os.chown(cluster.claims["presave-data"], 10001, 10001)
            cluster.shipped_config_map("presave-config", PRESAVE_DATA_DIR="/data")
            instance = find(kind="ConfigMap", name="presave-dagster-instance")["data"]
            cluster.config_maps["presave-dagster-instance"] = instance
            cluster.config_maps["presave-pgbouncer"] = {"pgbouncer.ini": pgbouncer_ini(store_url)}
            cluster.secrets["presave-pgbouncer-users"] = {"userlist.txt": f'"{user}" "pooler-secret"\n'}
            cluster.secrets["presave-apple-key"] = {"AuthKey.p8": apple_key()}
            cluster.secrets["presave-secrets"] = {
                "PRESAVE_DATABASE_URL": store_url,
                "PRESAVE_POOLED_DATABASE_URL": pooled(store_url),
                "PRESAVE_DAGSTER_POSTGRES_URL": dagster_postgres_url(dagster_url),
                "PRESAVE_SECRET_KEY": Fernet.generate_key().decode(),
                "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY,
                "PRESAVE_SPOTIFY_CLIENT_ID": "loopback-client",
                "PRESAVE_SPOTIFY_CLIENT_SECRET": "loopback-secret",
                "PRESAVE_APPLE_TEAM_ID": "ABCDE12345",
                "PRESAVE_APPLE_KEY_ID": "KEY1234567",
                "PRESAVE_APPLE_PRIVATE_KEY": "/secrets/apple/AuthKey.p8",
                "PRESAVE_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
                "PRESAVE_CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            }  # no Deezer keys: a label without a Deezer app
            yield Loopback(cluster, store_url, dagster_url)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def migrate(loopback: Loopback) -> None:
    """The migration Job, its init container first, each to completion."""
    job = find(kind="Job", name="presave-migrate")
    with run_container(job, loopback.cluster, init=True) as instance:
        assert instance.finished(within_s=180) == 0, instance.output()
    with run_container(job, loopback.cluster) as store:
        assert store.finished(within_s=120) == 0, store.output()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_migration_job_creates_dagsters_instance_and_the_store_before_anything_starts(
    loopback: Loopback,
) -> None:
    assert tables(loopback.dagster_url) == set()
    migrate(loopback)
    assert {"runs", "event_logs", "jobs", "job_ticks", "alembic_version"} <= tables(loopback.dagster_url)
    assert {"grants", "owed_actions", "app_pacing"} <= tables(loopback.store_url)


@pytest.mark.parametrize(
    ("deployment", "node"), [("presave-release-workers", "release"), ("presave-shard-workers", "shards")]
)
def test_release_and_shard_workers_start_on_a_read_only_dagster_home_and_answer_their_liveness_probe(
    loopback: Loopback, deployment: str, node: str
) -> None:
    """The broker is not dagster-celery's default (the machine's RabbitMQ as guest): a probe asking
    that one hears no node, as the shipped probe did."""
    migrate(loopback)
    with run_container(find(kind="Deployment", name=deployment), loopback.cluster) as worker:
        answer = worker.wait_for("livenessProbe", within_s=120)
        assert f"{node}@{worker.name}: OK" in answer
        assert "pong" in answer
    assert "Read-only file system" not in worker.output()
    assert "broker_url" not in worker.output()


def test_the_landing_app_behind_pgbouncer_is_ready_and_limits_a_client_whatever_it_forwards(
    loopback: Loopback,
) -> None:
    """Through the shipped PgBouncer (transaction pooling, no prepared statements), without Deezer keys;
    150 sign-ins from one address, each claiming another X-Forwarded-For: the limit of 120 a minute holds
    (uvicorn trusts no proxy header, and loopback is not in PRESAVE_TRUSTED_PROXIES)."""
    migrate(loopback)
    cluster = loopback.cluster
    with run_container(find(kind="Deployment", name="presave-pgbouncer"), cluster) as pooler:
        pooler.wait_for("readinessProbe", within_s=30)
        cluster.serve(6432, pooler)
        with run_container(find(kind="Deployment", name="presave-landing"), cluster) as landing:
            assert landing.wait_for("readinessProbe", within_s=90).startswith("ok\n")
            landing.wait_for("livenessProbe", within_s=10)
            statuses = []
            with httpx.Client(base_url=f"http://127.0.0.1:{landing.host_port('http')}", timeout=10) as client:
                for n in range(150):
                    forwarded = f"203.0.113.{n % 250}, 198.51.100.{n % 200}"
                    answer = client.get("/forget/connect/spotify", headers={"X-Forwarded-For": forwarded})
                    statuses.append(answer.status_code)
        through_pooler = read_through_pooler(pooled(loopback.store_url, pooler.host_port(6432)))
    assert statuses.count(429) >= 30, statuses
    assert 429 not in statuses[:100]
    assert through_pooler == ("30s", [0] * 20)


def read_through_pooler(url: str) -> tuple[str, list[int]]:
    """The store's engine on the pooled URL: the statement timeout PgBouncer's connect_query sets, and one
    query run 20 times (psycopg would prepare it from the sixth run on, were prepared statements on)."""
    store = Store.connect(url, upgrade=False)
    try:
        with store.session() as session:
            timeout = str(session.execute(text("show statement_timeout")).scalar_one())
        counts = []
        for _ in range(20):
            with store.session() as session:
                counts.append(int(session.execute(text("select count(*) from grants")).scalar_one()))
        return timeout, counts
    finally:
        store.dispose()


def helm_code_server() -> dict[str, Any]:
    """The code server's Deployment as Dagster's chart renders it from deploy/helm/values.yaml (the chart's
    template, not run here: `dagster api grpc -h 0.0.0.0 -p <port> <dagsterApiGrpcArgs>`, the readiness
    probe `dagster api grpc-health-check -p <port>`, DAGSTER_HOME with the instance file, read-only as a
    ConfigMap is, the values' ConfigMaps and Secrets as environment, their volumes and mounts)."""
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    (code,) = values["dagster-user-deployments"]["deployments"]
    port = str(code["port"])
    home = "/opt/dagster/dagster_home"
    container = {
        "name": code["name"],
        "command": ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", port, *code["dagsterApiGrpcArgs"]],  # noqa: S104 (in the pod)
        "env": [{"name": "DAGSTER_HOME", "value": home}],
        "envFrom": [{"configMapRef": c} for c in code["envConfigMaps"]]
        + [{"secretRef": s} for s in code["envSecrets"]],
        "readinessProbe": {
            "exec": {"command": ["dagster", "api", "grpc-health-check", "-p", port]},
            "periodSeconds": 20,
            "timeoutSeconds": 20,
        },
        "volumeMounts": [*code["volumeMounts"], {"name": "instance", "mountPath": home, "readOnly": True}],
    }
    volumes = [*code["volumes"], {"name": "instance", "configMap": {"name": "presave-dagster-instance"}}]
    spec = {
        "securityContext": {"runAsUser": 10001, "fsGroup": 10001},
        "containers": [container],
        "volumes": volumes,
    }
    return {
        "metadata": {"name": f"dagster-user-deployments-{code['name']}"},
        "spec": {"template": {"spec": spec}},
    }


def test_the_helm_code_server_serves_the_definitions_with_its_volumes(loopback: Loopback) -> None:
    """On the warehouse claim and with the Apple key where PRESAVE_APPLE_PRIVATE_KEY points."""
    migrate(loopback)
    with run_container(helm_code_server(), loopback.cluster) as code_server:
        code_server.wait_for("readinessProbe", within_s=240)
        listed = subprocess.run(
            code_server.enter(["dagster", "api", "grpc-health-check", "-p", "3030"]),
            capture_output=True,
            text=True,
            check=False,
        )
        key = subprocess.run(
            code_server.enter(
                [
                    "python",
                    "-c",
                    "import os; print(os.access(os.environ['PRESAVE_APPLE_PRIVATE_KEY'], os.R_OK))",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
    assert listed.returncode == 0
    assert key.stdout.strip() == "True", key.stderr
