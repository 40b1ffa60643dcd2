"""The configuration the project ships for production (deploy/): every file loads, every Kubernetes object
has only fields its API knows, images are pinned, secrets come from the Secret, ports line up, and the
landing app's probes ask /healthz."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes.client as k8s_models
import pytest
import yaml

from campaigns.settings import Settings
from pipelines.celery_app import CELERY_SETTINGS, release_celery_app
from pipelines.definitions import build_definitions
from pipelines.deploy import celery_executor_config
from tests.deploy.conftest import DEPLOY, ROOT

MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
SECRET_NAME = "presave-secrets"
KINDS = {  # (apiVersion, kind) -> the Kubernetes client's model of it
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "Job"): "V1Job",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2HorizontalPodAutoscaler",
}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object, "datetime": str}


def schema_errors(value: Any, type_name: str, where: str) -> list[str]:
    """Where `value` does not fit the Kubernetes API type `type_name` (unknown fields, wrong kinds)."""
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [
            e for i, item in enumerate(value) for e in schema_errors(item, type_name[5:-1], f"{where}[{i}]")
        ]
    if type_name.startswith(("dict(", "dict[")):
        inner = type_name[5:-1].split(",", 1)[1].strip()
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping"]
        return [e for k, v in value.items() for e in schema_errors(v, inner, f"{where}.{k}")]
    if type_name in PRIMITIVES:
        if type_name == "object":  # int-or-string fields (ports, quantities)
            return [] if isinstance(value, (str, int, float)) or value is None else [f"{where}: not a scalar"]
        expected = PRIMITIVES[type_name]
        return [] if isinstance(value, expected) else [f"{where}: expected {type_name}, got {value!r}"]
    model = getattr(k8s_models, type_name)
    if not isinstance(value, dict):
        return [f"{where}: expected a {type_name} mapping"]
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    errors = []
    for key, item in value.items():
        if key not in by_json_name:
            errors.append(f"{where}: {type_name} has no field {key!r}")
            continue
        errors.extend(schema_errors(item, model.openapi_types[by_json_name[key]], f"{where}.{key}"))
    return errors


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def secret_keys() -> set[str]:
    secret = next(
        doc for _, doc in documents() if doc["kind"] == "Secret" and doc["metadata"]["name"] == SECRET_NAME
    )
    return set(secret["stringData"])


def test_every_manifest_fits_the_kubernetes_api() -> None:
    found = documents()
    assert {doc["kind"] for _, doc in found} >= {"Deployment", "Service", "ConfigMap", "Secret", "Job"}
    for name, doc in found:
        model = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
        assert model, f"{name}: unexpected object {doc.get('apiVersion')}/{doc.get('kind')}"
        assert doc["metadata"].get("name"), f"{name}: {doc['kind']} has no name"
        assert schema_errors(doc, model, f"{name}:{doc['kind']}") == []


def test_the_validator_catches_a_misspelt_probe() -> None:
    broken = {"spec": {"template": {"spec": {"containers": [{"name": "x", "readinesProbe": {}}]}}}}
    errors = schema_errors(broken, "V1Deployment", "broken")
    assert errors == ["broken.spec.template.spec.containers[0]: V1Container has no field 'readinesProbe'"]


def test_images_are_pinned_and_secrets_come_from_the_secret() -> None:
    keys = secret_keys()
    for name, doc in documents():
        for container in containers(doc):
            image = container["image"]
            assert re.search(r":[\w.-]+$", image), f"{name}: {image} has no tag"
            assert not image.endswith(":latest"), f"{name}: {image} is not pinned"
            for variable in container.get("env", []):
                if "value" in variable:
                    assert not re.search(r"SECRET|PASSWORD|_KEY$|DATABASE_URL|BROKER", variable["name"]), (
                        f"{name}: {variable['name']} written in the manifest"
                    )
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    assert reference["name"] == SECRET_NAME
                    assert reference["key"] in keys, f"{name}: {reference['key']} is not in the Secret"
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] == SECRET_NAME


def test_the_landing_app_serves_its_port_and_is_probed_on_healthz() -> None:
    found = {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in documents()}
    deployment = found[("Deployment", "presave-landing")]
    service = found[("Service", "presave-landing")]
    (container,) = containers(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] == "/healthz"
        assert check["port"] in ports or check["port"] in ports.values()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(ports) | set(ports.values())
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    command = container["command"]
    assert "collectors.landing.asgi:app" in command
    assert "--factory" in command
    assert str(ports["http"]) == command[command.index("--port") + 1]
    assert deployment["spec"]["replicas"] >= 2


def test_every_setting_a_container_reads_from_the_secret_is_a_setting_of_the_project() -> None:
    known = {f"PRESAVE_{name.upper()}" for name in Settings.model_fields} | {
        "PRESAVE_DAGSTER_POSTGRES_URL",  # read by deploy/dagster.yaml, not by the project
        "PRESAVE_REDIS_URL",  # DESIGN's contract; the shared pacing and rate limits (issue 12) read it
        "PRESAVE_POOLED_DATABASE_URL",  # the landing pods' PRESAVE_DATABASE_URL, through PgBouncer
    }
    assert secret_keys() <= known
    config = next(
        doc
        for _, doc in documents()
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "presave-config"
    )
    assert {k for k in config["data"] if k.startswith("PRESAVE_")} <= known
    Settings(
        _env_file=None,
        **{
            k.removeprefix("PRESAVE_").lower(): v
            for k, v in config["data"].items()
            if k.startswith("PRESAVE_")
        },
    )  # type: ignore[call-arg]


def test_the_helm_values_run_the_project_on_kubernetes_jobs_with_postgres() -> None:
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    for part in (
        values["dagsterWebserver"],
        values["dagsterDaemon"],
        *values["dagster-user-deployments"]["deployments"],
    ):
        image = part["image"]
        assert image["tag"]
        assert image["tag"] != "latest"
        assert image["repository"]
    (code,) = values["dagster-user-deployments"]["deployments"]
    module = code["dagsterApiGrpcArgs"][code["dagsterApiGrpcArgs"].index("--module-name") + 1]
    assert (ROOT / Path(*module.split("."))).with_suffix(".py").exists()
    assert {"name": SECRET_NAME} in code["envSecrets"]
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert {"name": SECRET_NAME} in launcher["config"]["k8sRunLauncher"]["envSecrets"]
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    limits = coordinator["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert limits == instance["run_coordinator"]["config"]["tag_concurrency_limits"]
    for volume in (code["volumes"], launcher["config"]["k8sRunLauncher"]["volumes"]):
        assert schema_errors(volume, "list[V1Volume]", "volumes") == []


@pytest.mark.parametrize("executor", ["celery", "k8s"])
def test_the_release_day_job_loads_on_each_distributed_executor(executor: str, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, dagster_executor=executor)  # type: ignore[call-arg]
    definitions = build_definitions(settings)
    job = definitions.resolve_job_def("release_day_job")
    assert job.executor_def.name == executor
    assert definitions.resolve_schedule_def("release_day_schedule").job_name == "release_day_job"
    assert definitions.resolve_job_def("warehouse_job").executor_def.name != executor  # DuckDB: one writer


def test_the_workers_app_has_the_broker_backend_and_settings_the_job_runs_with() -> None:
    broker = "pyamqp://presave:broker-secret@127.0.0.1:5672//"
    settings = Settings(_env_file=None, celery_broker_url=broker, celery_backend_url="rpc://")  # type: ignore[call-arg]
    expected = celery_executor_config(settings)
    app = release_celery_app(settings)
    assert expected["broker"] == {"env": "PRESAVE_CELERY_BROKER_URL"}  # no password in the definitions
    assert app.conf.broker_url == broker
    assert app.conf.result_backend == expected["backend"]
    assert {key: app.conf[key] for key in CELERY_SETTINGS} == CELERY_SETTINGS == expected["config_source"]
    assert {"execute_plan", "execute_job", "resume_job"} <= set(app.tasks)


WAREHOUSE_NODE = {"presave.example.org/warehouse": "true"}
GUIDE = ROOT / "docs" / "operations.md"


def pod_templates() -> list[tuple[str, dict[str, Any], int]]:
    """Every pod the shipped configuration makes (name, pod spec, how many at once): the manifests'
    workloads, the Helm chart's code server and its run pods (up to max_concurrent_runs at once)."""
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    found = []
    for name, doc in documents():
        if doc["kind"] in {"Deployment", "Job"}:
            found.append(
                (
                    f"{name}:{doc['metadata']['name']}",
                    doc["spec"]["template"]["spec"],
                    doc["spec"].get("replicas", 1),
                )
            )
    for code in values["dagster-user-deployments"]["deployments"]:
        spec = {
            "volumes": code.get("volumes", []),
            "nodeSelector": code.get("nodeSelector", {}),
            "containers": [{"env": [], "volumeMounts": code.get("volumeMounts", [])}],
        }
        found.append((f"helm code server {code['name']}", spec, code.get("replicaCount", 1)))
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    pod_config = launcher.get("runK8sConfig", {}).get("podSpecConfig", {})
    runs = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"]
    spec = {
        "volumes": launcher.get("volumes", []),
        "nodeSelector": pod_config.get("nodeSelector", {}),
        "containers": [{"env": [], "volumeMounts": launcher.get("volumeMounts", [])}],
    }
    found.append(("helm run pods", spec, runs))
    return found


def claims() -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == "PersistentVolumeClaim"}


def test_every_claim_a_pod_mounts_is_defined_and_a_read_write_once_one_stays_on_one_node() -> None:
    defined = claims()
    for name, spec, count in pod_templates():
        for volume in spec.get("volumes", []):
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if not claim:
                continue
            assert claim in defined, f"{name}: claim {claim!r} is defined nowhere in deploy/k8s"
            if "ReadWriteOnce" in defined[claim]["spec"]["accessModes"]:
                assert spec.get("nodeSelector", {}).items() >= WAREHOUSE_NODE.items(), (
                    f"{name}: {count} pod(s) mount the ReadWriteOnce claim {claim!r} without selecting the "
                    "one warehouse node: pods on two nodes cannot both attach it"
                )


def test_a_pod_given_the_apple_key_path_mounts_the_key_there() -> None:
    key_path = Path(secret_values()["PRESAVE_APPLE_PRIVATE_KEY"])
    for name, spec, _ in pod_templates():
        secret_volumes = {
            v["name"]: v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v
        }
        for container in spec.get("containers", []):
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            reads_key = (
                name.startswith("helm")  # envSecrets: presave-secrets
                or any(e.get("name") == "PRESAVE_APPLE_PRIVATE_KEY" for e in container.get("env", []))
                or any("secretRef" in source for source in container.get("envFrom", []))
            )
            if not reads_key:
                continue
            volume = mounts.get(str(key_path.parent))
            assert secret_volumes.get(volume or "") == "presave-apple-key", (
                f"{name}: reads PRESAVE_APPLE_PRIVATE_KEY={key_path} but mounts no presave-apple-key there"
            )


def secret_values() -> dict[str, str]:
    secret = next(
        doc for _, doc in documents() if doc["kind"] == "Secret" and doc["metadata"]["name"] == SECRET_NAME
    )
    return dict(secret["stringData"])


def test_the_guide_names_every_secret_its_keys_and_the_apple_key_file() -> None:
    guide = GUIDE.read_text()
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    secrets = {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == "Secret"}
    assert values["global"]["postgresqlSecretName"] in secrets
    for name, doc in secrets.items():
        assert f"`{name}`" in guide, f"docs/operations.md does not name the Secret {name}"
        for key in doc["stringData"]:
            assert f"`{key}`" in guide, f"docs/operations.md does not name {name}'s key {key}"
    assert Path(secret_values()["PRESAVE_APPLE_PRIVATE_KEY"]).name == "AuthKey.p8"


def test_the_landing_pods_read_deezer_and_apple_settings_only_if_the_label_has_them() -> None:
    landing = next(doc for _, doc in documents() if doc["metadata"]["name"] == "presave-landing")
    (container,) = containers(landing)
    for variable in container["env"]:
        reference = variable.get("valueFrom", {}).get("secretKeyRef", {})
        if re.match(r"PRESAVE_(DEEZER|APPLE)_", variable["name"]):
            assert reference.get("optional") is True, f"{variable['name']} is required of every label"


def test_the_instance_file_of_the_migration_job_and_workers_is_the_shipped_instances_storage() -> None:
    (config_map,) = [doc for _, doc in documents() if doc["metadata"]["name"] == "presave-dagster-instance"]
    instance = yaml.safe_load(config_map["data"]["dagster.yaml"])
    assert instance["storage"] == yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["storage"]


def test_the_guides_connection_budget_follows_the_replica_counts() -> None:
    """The landing pods' largest number of client connections and PgBouncer's server connections, from
    the shipped files (and the app's pool: route threads plus spares, as much overflow again), are the
    figures docs/operations.md budgets, and PgBouncer takes every client even with one pod left."""
    from collectors.landing.app import SPARE_CONNECTIONS

    found = {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in documents()}
    landing = found[("Deployment", "presave-landing")]
    (container,) = containers(landing)
    processes = int(container["command"][container["command"].index("--workers") + 1])
    pods = found[("HorizontalPodAutoscaler", "presave-landing")]["spec"]["maxReplicas"]
    threads = Settings(_env_file=None).landing_threads  # type: ignore[call-arg]
    clients = pods * processes * 2 * (threads + SPARE_CONNECTIONS)
    ini = found[("ConfigMap", "presave-pgbouncer")]["data"]["pgbouncer.ini"]
    setting = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in ini.splitlines()) if _}
    poolers = found[("Deployment", "presave-pgbouncer")]["spec"]["replicas"]
    servers = poolers * int(setting["max_db_connections"])
    assert clients <= int(setting["max_client_conn"])
    assert int(setting["default_pool_size"]) + int(setting["reserve_pool_size"]) <= int(
        setting["max_db_connections"]
    )
    assert setting["pool_mode"] == "transaction"
    guide = GUIDE.read_text()
    assert f"| {clients} client connections" in guide
    assert f"{poolers} pods × `max_db_connections = {setting['max_db_connections']}`" in guide
    assert f"| {servers} |" in guide


def _worker_flags(name: str) -> dict[str, str]:
    """The `--flag value` pairs of a Celery worker Deployment's command."""
    found = {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in documents()}
    (container,) = containers(found[("Deployment", name)])
    command = container["command"]
    assert command[:4] == ["celery", "-A", "pipelines.celery_app", "worker"]
    assert {"configMapRef": {"name": "presave-config"}} in container["envFrom"]
    assert {"secretRef": {"name": SECRET_NAME}} in container["envFrom"]  # the shared pacing's Redis URL
    return dict(zip(command[4::2], command[5::2], strict=True))


def test_release_day_shards_run_on_their_own_workers_one_at_a_time_pacing_in_redis() -> None:
    from pipelines.fanout import SHARD_QUEUE

    shards, steps = _worker_flags("presave-shard-workers"), _worker_flags("presave-release-workers")
    assert shards["--queues"] == SHARD_QUEUE
    assert shards["--concurrency"] == "1"
    assert SHARD_QUEUE not in steps["--queues"].split(",")  # a step waits on its shards: never takes one
    assert "PRESAVE_REDIS_URL" in secret_keys()
    guide = GUIDE.read_text()
    assert "kubectl -n presave scale deploy/presave-shard-workers --replicas=" in guide
