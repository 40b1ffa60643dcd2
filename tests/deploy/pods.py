"""A container of a shipped manifest run on this machine as the kubelet would run it: exactly its command and
arguments, its environment (`envFrom` and `env`, with the ConfigMaps and Secrets a test hands over), its
volume mounts at their paths (read-only where the manifest says so), as its `runAsUser`, with a host name of
its own; then its probes (`httpGet`, `exec`) asked as the kubelet asks them.

How (honestly): the process runs in a mount, UTS and network namespace of its own (`unshare`, as root). Each mounted
volume is a folder of the test (a ConfigMap's or Secret's keys written as files, an emptyDir empty, a claim
a folder standing for the disk) bind-mounted at the manifest's `mountPath` and remounted read-only when
`readOnly: true`, so a write there fails with EROFS as in the pod, for root too. The mount points are made
on this machine's file system (empty folders such as /data or /secrets/apple stay behind, unmounted). The
image is stood in for by the repository bind-mounted read-only at /app (the Containerfile's WORKDIR) with
its virtual environment first on PATH, as the Containerfile's ENV sets it; `readOnlyRootFilesystem` remounts
/ read-only in the namespace. Ports are the manifest's, inside the pod's network namespace; the machine's
PostgreSQL, Redis and RabbitMQ, and other pods' ports (a Service), are forwarded into it at 127.0.0.1
(tests/deploy/network.py), and the probes reach the pod through a forwarded port of the test's.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.deploy.conftest import DEPLOY, ROOT
from tests.deploy.network import Forwarder, namespace_of

IMAGE_ROOT = "/app"
HOST_PORTS = (5432, 6379, 5672)  # PostgreSQL, Redis, RabbitMQ: the cluster's databases and brokers
CONTAINERFILE = ROOT / "Containerfile"


class PodConfigError(Exception):
    """What the kubelet reports as CreateContainerConfigError: the pod never starts."""


@dataclass
class Cluster:
    """What the API server would hand a pod: ConfigMaps and Secrets by name, claims as folders."""

    scratch: Path
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    claims: dict[str, Path] = field(default_factory=dict)
    services: dict[int, Container] = field(default_factory=dict)  # port -> the pod behind it

    def serve(self, port: int, container: Container) -> None:
        """A Service: pods started from now on reach `container`'s `port` at 127.0.0.1:`port`."""
        self.services[port] = container

    def shipped_config_map(self, name: str, **overrides: str) -> None:
        """A ConfigMap as `deploy/k8s` ships it, some values changed for loopback."""
        doc = find(kind="ConfigMap", name=name)
        self.config_maps[name] = {**doc["data"], **overrides}


def manifests() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def find(*, kind: str, name: str) -> dict[str, Any]:
    for doc in manifests():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise LookupError(f"no {kind} {name} in deploy/k8s")


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def image_env() -> dict[str, str]:
    """The ENV lines of the Containerfile's last stage (the run-time image)."""
    text = CONTAINERFILE.read_text()
    last = text[text.rindex("\nFROM ") :]
    env: dict[str, str] = {}
    for line in last.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                name, _, value = item.partition("=")
                env[name] = re.sub(
                    r"\$(\w+)", lambda m: env.get(m.group(1), os.environ.get(m.group(1), "")), value
                )
    return env


def container_env(container: dict[str, Any], cluster: Cluster, hostname: str) -> dict[str, str]:
    """The container's environment, resolved as the kubelet resolves it (`env` over `envFrom`)."""
    env = {**image_env(), "HOSTNAME": hostname}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(_object(cluster.config_maps, "ConfigMap", source["configMapRef"]))
        if "secretRef" in source:
            env.update(_object(cluster.secrets, "Secret", source["secretRef"]))
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), variable["value"]
            )
            continue
        ref = variable["valueFrom"].get("secretKeyRef") or variable["valueFrom"].get("configMapKeyRef")
        objects = cluster.secrets if "secretKeyRef" in variable["valueFrom"] else cluster.config_maps
        values = _object(objects, "object", ref)
        if ref["key"] in values:
            env[variable["name"]] = values[ref["key"]]
        elif not ref.get("optional"):
            raise PodConfigError(f"couldn't find key {ref['key']} in {ref['name']} (for {variable['name']})")
    return env


def _object(objects: dict[str, dict[str, str]], kind: str, ref: dict[str, Any]) -> dict[str, str]:
    if ref["name"] in objects:
        return objects[ref["name"]]
    if ref.get("optional"):
        return {}
    raise PodConfigError(f"{kind} {ref['name']} not found")


def volume_folder(volume: dict[str, Any], cluster: Cluster, pod: str) -> Path:
    """The folder standing for one of the pod's volumes."""
    folder = cluster.scratch / pod / volume["name"]
    if "persistentVolumeClaim" in volume:
        claim = volume["persistentVolumeClaim"]["claimName"]
        if claim not in cluster.claims:
            raise PodConfigError(f"persistentvolumeclaim {claim!r} not found")
        return cluster.claims[claim]
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, 10001, 10001)  # fsGroup: the pod's user may write where the volume is writable
    if "emptyDir" in volume:
        return folder
    if "configMap" in volume:
        data = _object(cluster.config_maps, "ConfigMap", volume["configMap"])
        mode = volume["configMap"].get("defaultMode", 0o644)
    elif "secret" in volume:
        data = _object(
            cluster.secrets, "Secret", {"name": volume["secret"]["secretName"], **volume["secret"]}
        )
        mode = volume["secret"].get("defaultMode", 0o644)
    else:
        raise PodConfigError(f"volume {volume['name']}: a kind this runner does not model")
    for key, value in data.items():
        path = folder / key
        path.write_text(value)
        os.chown(path, 10001, 10001)
        path.chmod(mode)
    return folder


def _run_as(spec: dict[str, Any], container: dict[str, Any]) -> list[str]:
    context = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
    user = context.get("runAsUser")
    if user is None:
        return []
    group = context.get("runAsGroup", spec.get("securityContext", {}).get("fsGroup", user))
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups"]


@dataclass
class Container:
    """One container of a manifest, started; its probes asked on demand."""

    name: str
    spec: dict[str, Any]
    container: dict[str, Any]
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    namespace: int
    forwarders: list[Forwarder] = field(default_factory=list)
    _host_ports: dict[int, int] = field(default_factory=dict)

    def host_port(self, port: int | str) -> int:
        """A port of this machine carried to the container's `port` (what the kubelet dials)."""
        number = self.port(port)
        if number not in self._host_ports:
            forwarder = Forwarder(None, 0, self.namespace, number)
            self.forwarders.append(forwarder)
            self._host_ports[number] = forwarder.port
        return self._host_ports[number]

    def enter(self, command: list[str]) -> list[str]:
        """`command` inside the container: its namespaces, its user, its environment, its working dir."""
        environment = [f"{k}={v}" for k, v in self.env.items()]
        workdir = self.container.get("workingDir", IMAGE_ROOT)
        return [
            "nsenter", f"--target={self.process.pid}", "--mount", "--uts", "--net", f"--wd={workdir}",
            *_run_as(self.spec, self.container), "env", "-i", *environment, *command,
        ]  # fmt: skip

    def probe(self, kind: str) -> tuple[bool, str]:
        """The kubelet's verdict on the probe `kind` (readinessProbe, livenessProbe), with what it saw."""
        probe = self.container[kind]
        timeout = probe.get("timeoutSeconds", 1)
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = self.host_port(get["port"])
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}{get['path']}", timeout=timeout)
            except httpx.HTTPError as exc:
                return False, repr(exc)
            return 200 <= answer.status_code < 400, answer.text
        if "tcpSocket" in probe:
            try:
                address = ("127.0.0.1", self.host_port(probe["tcpSocket"]["port"]))
                with socket.create_connection(address, timeout=timeout):
                    return True, "connected"
            except OSError as exc:
                return False, repr(exc)
        command = self.enter(probe["exec"]["command"])
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return False, f"timed out after {timeout} s"
        return done.returncode == 0, done.stdout + done.stderr

    def wait_for(self, kind: str, within_s: float) -> str:
        """Asks the probe every second until it passes; fails naming what it saw and the container's log."""
        deadline = time.monotonic() + within_s
        seen = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.output()}")
            passed, seen = self.probe(kind)
            if passed:
                return seen
            time.sleep(1)
        raise AssertionError(f"{self.name}: {kind} failing after {within_s:.0f} s: {seen}\n{self.output()}")

    def port(self, port: int | str) -> int:
        if isinstance(port, int):
            return port
        return next(p["containerPort"] for p in self.container.get("ports", []) if p.get("name") == port)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def finished(self, within_s: float) -> int:
        return self.process.wait(timeout=within_s)


def _mount_script(spec: dict[str, Any], container: dict[str, Any], cluster: Cluster, pod: str) -> list[str]:
    folders = {volume["name"]: volume_folder(volume, cluster, pod) for volume in spec.get("volumes", [])}
    lines = _image_root()
    for mount in container.get("volumeMounts", []):
        target = mount["mountPath"]
        source = folders[mount["name"]]
        if "subPath" in mount:
            source = source / mount["subPath"]
        lines.append(f"mkdir -p {shlex.quote(target)}")
        lines.append(f"mount --bind {shlex.quote(str(source))} {shlex.quote(target)}")
        if mount.get("readOnly"):
            lines.append(f"mount -o remount,bind,ro {shlex.quote(target)}")
    if any(ROOT.is_relative_to(mount["mountPath"]) for mount in container.get("volumeMounts", [])):
        # a volume (an emptyDir at /tmp) hid the checkout, whose path the venv's scripts name as their
        # interpreter's; in the image that path is /app itself
        lines += [f"mkdir -p {shlex.quote(str(ROOT))}", f"mount --bind {IMAGE_ROOT} {shlex.quote(str(ROOT))}"]
    if container.get("securityContext", {}).get("readOnlyRootFilesystem"):
        lines.append("mount -o remount,bind,ro /")
    return lines


def _image_root() -> list[str]:
    """The repository at /app, read-only, as the image holds it; the interpreter the virtual environment
    links to made reachable for an unprivileged user when it sits in root's home (0700 here)."""
    lines = [
        f"mkdir -p {IMAGE_ROOT}",
        f"mount --bind {shlex.quote(str(ROOT))} {IMAGE_ROOT}",
        f"mount -o remount,bind,ro {IMAGE_ROOT}",
    ]
    interpreter = Path(os.path.realpath(ROOT / ".venv" / "bin" / "python"))
    home = Path("/root")
    if home in interpreter.parents and not os.stat(home).st_mode & 0o001:
        top = home / interpreter.relative_to(home).parts[0]
        lines += [
            "stage=$(mktemp -d)",
            f"mount --bind {top} $stage",
            f"mount -t tmpfs -o mode=0755 tmpfs {home}",
            f"mkdir -p {top}",
            f"mount --move $stage {top}",
        ]
    return lines


@contextlib.contextmanager
def run_container(
    doc: dict[str, Any], cluster: Cluster, *, container: str | None = None, init: bool = False
) -> Iterator[Container]:
    """Starts one container of the workload `doc` (its first, or the one named; an init container when
    `init`), and stops it (SIGTERM, then SIGKILL) when the block ends."""
    spec = pod_spec(doc)
    pool = spec.get("initContainers" if init else "containers", [])
    chosen = next(c for c in pool if container is None or c["name"] == container)
    pod = f"{doc['metadata']['name']}-{secrets.token_hex(3)}"
    env = container_env(chosen, cluster, pod)
    command = [*chosen.get("command", []), *chosen.get("args", [])]
    assert command, f"{pod}: no command (the image's entrypoint is not modelled)"
    environment = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    workdir = chosen.get("workingDir", IMAGE_ROOT)
    script = "\n".join(
        [
            "set -e",
            *_mount_script(spec, chosen, cluster, pod),
            f"hostname {shlex.quote(pod)}",
            "ip link set lo up 2>/dev/null || true",
            "read -r go",  # until the Services' forwarders listen in the pod's network
            f"cd {shlex.quote(workdir)}",
            f"exec {shlex.join(_run_as(spec, chosen))} env -i {environment} {shlex.join(command)}",
        ]
    )
    log = cluster.scratch / f"{pod}.{chosen['name']}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["unshare", "--mount", "--uts", "--net", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Container(pod, spec, chosen, env, process, log, _own_network(process))
    try:
        for port in HOST_PORTS:
            running.forwarders.append(Forwarder(running.namespace, port, None, port))
        for port, target in cluster.services.items():
            running.forwarders.append(Forwarder(running.namespace, port, target.namespace, port))
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        process.stdin.close()
        yield running
    finally:
        grace = spec.get("terminationGracePeriodSeconds", 30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=min(grace, 20))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for forwarder in running.forwarders:
            forwarder.close()
        os.close(running.namespace)


def _own_network(process: subprocess.Popen[bytes]) -> int:
    """The network namespace `unshare` made for the process, once it has made it."""
    host = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.readlink(f"/proc/{process.pid}/ns/net") != host:
            return namespace_of(process.pid)
        time.sleep(0.02)
    raise AssertionError(f"no network namespace of its own for {process.args}")
