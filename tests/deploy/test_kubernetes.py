"""deploy/kubernetes/: strict schema validation against pinned Kubernetes versions, the
kustomization, pod security, probes, the shared key, and that every command, setting, port
and path the manifests name exists."""

from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from receiver.auth.keyring import KeyRing, rotated
from receiver.auth.keys import (
    KeyEntry,
    load_key_file,
    mode_problem,
    new_signing_key,
    render_key_file,
)
from receiver.clock import utc_now
from receiver.crypto.kekfile import unsafe_mode
from receiver.errors import ConfigError
from receiver.settings import Settings
from receiver.upstream.stedi import StediClient
from tests.deploy.surface import (
    ALL_INTERFACES,
    KUBERNETES,
    SETTING_NAMES,
    check_settings,
    get_routes,
    image_user,
    option_value,
    parse_invocation,
)

# The oldest version the manifests are for (preStop `sleep` is on by default from 1.30) and the
# newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
KUSTOMIZATION = KUBERNETES / "kustomization.yaml"
ONE_OFF = {"stedi-account-job.yaml"}  # run by hand with kubectl create, not applied with -k
ENTRYPOINT = "receiver"  # the image's ENTRYPOINT: containers without `command` run it


def manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p != KUSTOMIZATION)


@functools.cache
def load(path: Path) -> tuple[dict[str, Any], ...]:
    """The documents of one manifest, parsed once per run (callers only read them)."""
    return tuple(doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def resources() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in manifest_files():
        for doc in load(path):
            yield path, doc


def find(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for _, d in resources() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, doc in resources():
        if doc["kind"] in {"Deployment", "Job"}:
            yield f"{path.name}:{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def receiver_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    """The containers, each running the image's entrypoint."""
    for where, spec in pod_specs():
        for container in spec["containers"]:
            assert "command" not in container, f"{where}: runs {container['command']}"
            yield f"{where}:{container['name']}", container


def web() -> dict[str, Any]:
    return find("Deployment", "receiver-web")


def web_container() -> dict[str, Any]:
    (container,) = web()["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def config() -> dict[str, str]:
    data = find("ConfigMap", "receiver-config")["data"]
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_manifest_is_valid_strictly(path: Path, version: str) -> None:
    """kubernetes-validate with strict schemas: unknown fields are errors, not ignored."""
    validator = pytest.importorskip("kubernetes_validate")
    for doc in load(path):
        try:
            validator.validate(doc, version, strict=True)
        except validator.ValidationError as exc:
            pytest.fail(f"{path.name} against Kubernetes {version}: {exc}")


class TestKustomization:
    def test_lists_every_manifest_but_the_one_off_jobs(self) -> None:
        kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
        listed = kustomization["resources"]
        assert sorted(listed) == sorted(p.name for p in manifest_files() if p.name not in ONE_OFF)

    def test_namespace_is_the_one_defined(self) -> None:
        kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
        (namespace,) = [d for _, d in resources() if d["kind"] == "Namespace"]
        assert kustomization["namespace"] == namespace["metadata"]["name"]
        for name in ONE_OFF:
            for doc in load(KUBERNETES / name):
                assert doc["metadata"]["namespace"] == kustomization["namespace"]

    def test_one_off_jobs_use_the_image_kustomize_sets(self) -> None:
        kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
        (image,) = kustomization["images"]
        assert image["name"] == "receiver"
        for where, container in receiver_containers():
            if where.split(":")[0] in ONE_OFF:
                assert container["image"] == f"{image['newName']}:{image['newTag']}"
            else:
                assert container["image"] == image["name"]


class TestPodSecurity:
    @pytest.mark.parametrize("where", [w for w, _ in pod_specs()])
    def test_pod_runs_as_the_image_user_under_runtime_default_seccomp(self, where: str) -> None:
        spec = dict(pod_specs())[where]
        uid, gid = image_user()
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True
        assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid)
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False

    @pytest.mark.parametrize("where", [w for w, _ in pod_specs()])
    def test_every_container_is_locked_down_and_bounded(self, where: str) -> None:
        spec = dict(pod_specs())[where]
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}
            if container in spec["containers"]:
                (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
                assert "emptyDir" in volumes[tmp["name"]]


class TestCommands:
    @pytest.mark.parametrize("where", [w for w, _ in receiver_containers()])
    def test_arguments_parse(self, where: str) -> None:
        container = dict(receiver_containers())[where]
        parse_invocation(container["args"])

    def test_web_serves_two_replicas_without_workers(self) -> None:
        ctx = parse_invocation(web_container()["args"])
        assert ctx.info_name == "serve"
        assert ctx.params["no_workers"] is True
        assert ctx.params["host"] == ALL_INTERFACES
        assert web()["spec"]["replicas"] == 2

    def test_worker_and_migration(self) -> None:
        deployment = find("Deployment", "receiver-worker")
        (worker,) = deployment["spec"]["template"]["spec"]["containers"]
        assert worker["args"] == ["worker"]
        assert deployment["spec"]["replicas"] == 2, "one hung worker must not stop follow-up"
        (migrate,) = find("Job", "receiver-migrate")["spec"]["template"]["spec"]["containers"]
        assert migrate["args"] == ["migrate"]

    @pytest.mark.parametrize("where", [w for w, _ in receiver_containers()])
    def test_other_variables_are_the_ones_env_options_name(self, where: str) -> None:
        """A variable that is not a setting must be one an `--*-env` option reads."""
        container = dict(receiver_containers())[where]
        args = container["args"]
        named = {args[i + 1] for i, arg in enumerate(args[:-1]) if arg.endswith("-env")}
        others = {e["name"] for e in container.get("env", [])} - SETTING_NAMES
        assert others == named


class TestSettings:
    def test_config_map_holds_settings_receiver_accepts(self) -> None:
        check_settings(config())

    @pytest.mark.parametrize("where", [w for w, _ in receiver_containers()])
    def test_settings_come_from_the_config_map_and_the_database_url_from_a_secret(
        self, where: str
    ) -> None:
        container = dict(receiver_containers())[where]
        assert container["envFrom"] == [{"configMapRef": {"name": "receiver-config"}}]
        (url,) = [e for e in container["env"] if e["name"] == "RECEIVER_DATABASE_URL"]
        assert url["valueFrom"] == {"secretKeyRef": {"name": "receiver-database", "key": "url"}}
        assert "RECEIVER_DATABASE_URL" not in config()
        for variable in container["env"]:
            assert "value" not in variable, f"{variable['name']}: a value, not a reference"


class TestProbes:
    def test_web_liveness_and_readiness_ask_real_routes_on_the_served_port(self) -> None:
        container = web_container()
        (port,) = container["ports"]
        assert str(port["containerPort"]) == option_value(container["args"], "--port")
        routes = get_routes()
        expected = {
            "startupProbe": "/healthz",
            "livenessProbe": "/healthz",
            "readinessProbe": "/readyz",
        }
        for probe, path in expected.items():
            check = container[probe]["httpGet"]
            assert check == {"path": path, "port": port["name"]}
            assert "GET" in routes[path]

    def test_worker_has_no_http_probe(self) -> None:
        (worker,) = find("Deployment", "receiver-worker")["spec"]["template"]["spec"]["containers"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert "httpGet" not in worker.get(probe, {}), "receiver worker serves no HTTP"

    def test_service_and_disruption_budget_select_the_web_pods(self) -> None:
        labels = web()["spec"]["template"]["metadata"]["labels"]
        service = find("Service", "receiver-web")
        assert service["spec"]["selector"] == labels
        (port,) = service["spec"]["ports"]
        assert port["targetPort"] == web_container()["ports"][0]["name"]
        budget = find("PodDisruptionBudget", "receiver-web")
        assert budget["spec"]["selector"]["matchLabels"] == labels
        assert 0 < budget["spec"]["minAvailable"] < web()["spec"]["replicas"]


class TestShutdown:
    def test_worker_grace_period_outlasts_the_work_it_finishes(self) -> None:
        """On SIGTERM the worker finishes what it holds: a Stedi read (StediClient's
        read timeout) or a delivery attempt (RECEIVER_DELIVERY_TIMEOUT_SECONDS)."""
        spec = find("Deployment", "receiver-worker")["spec"]["template"]["spec"]
        stedi = inspect.signature(StediClient).parameters
        longest = max(
            stedi["connect_timeout"].default + stedi["read_timeout"].default,
            Settings().delivery_timeout_seconds,
        )
        assert spec["terminationGracePeriodSeconds"] > longest
        assert int(config()["RECEIVER_WORKER_LEASE_SECONDS"]) > longest

    def test_web_grace_period_covers_the_pre_stop_pause(self) -> None:
        spec = web()["spec"]["template"]["spec"]
        pause = web_container()["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert spec["terminationGracePeriodSeconds"] > pause


class SecretVolume:
    """A folder laid out as the kubelet lays out a Secret volume (its atomic writer): each file
    a symlink through `..data` to a timestamped folder; an update writes a new folder, owner
    and mode set, and swaps `..data` to it with one rename."""

    def __init__(self, root: Path, *, mode: int, owner: tuple[int, int] | None = None) -> None:
        self.root, self.mode, self.owner = root, mode, owner
        self._versions = 0
        self._own(root, 0o750)

    def publish(self, files: dict[str, bytes]) -> None:
        """Write `files` as the kubelet writes a Secret, first or updated."""
        self._versions += 1
        version = self.root / f"..2026_12_01_10_00_00.{self._versions:09d}"
        version.mkdir()
        self._own(version, 0o750)
        for name, content in files.items():
            (version / name).write_bytes(content)
            self._own(version / name, self.mode)
        data = self.root / "..data"
        previous = os.readlink(data) if data.is_symlink() else None
        (self.root / "..data_tmp").symlink_to(version.name)
        os.rename(self.root / "..data_tmp", data)
        for name in files:
            if not (self.root / name).is_symlink():
                (self.root / name).symlink_to(f"..data/{name}")
        if previous is not None:
            shutil.rmtree(self.root / previous)

    def _own(self, path: Path, mode: int) -> None:
        if self.owner is not None:
            os.chown(path, *self.owner)
        os.chmod(path, mode)


# Run as root, it becomes the pod's user (its group as the fsGroup) once its imports are done:
# the interpreter may live where that user cannot read.
LOAD_AS_USER = """
import json, os, sys
from pathlib import Path
from receiver.auth.keys import load_key_file
path, uid, gid = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
os.setgroups([gid])
os.setgid(gid)
os.setuid(uid)
print(json.dumps([entry.key.kid for entry in load_key_file(path)]))
"""


def key_secret_volume() -> dict[str, Any]:
    (volume,) = [
        v
        for v in web()["spec"]["template"]["spec"]["volumes"]
        if v.get("secret", {}).get("secretName") == "receiver-signing-keys"
    ]
    assert isinstance(volume, dict)
    return volume


def two_key_files() -> tuple[bytes, bytes, list[str]]:
    """A key file's bytes, the same after `keys rotate`, and their kids."""
    first = KeyEntry(new_signing_key())
    entries = rotated((first,), utc_now(), delay_seconds=900, token_ttl_seconds=3600)
    kids = [entry.key.kid for entry in entries]
    return render_key_file(entries[:1]), render_key_file(entries), kids


class TestSigningKey:
    def test_web_mounts_the_secret_whole_where_the_setting_points(self) -> None:
        """RECEIVER_SIGNING_KEY_PATH is the Secret's file in a volume mounted as a folder
        (a subPath mount never sees the Secret updated, so it would miss every rotation)."""
        path = PurePosixPath(config()["RECEIVER_SIGNING_KEY_PATH"])
        volume = key_secret_volume()
        assert volume["secret"] == {
            "secretName": "receiver-signing-keys",
            "defaultMode": 0o440,
            "items": [{"key": path.name, "path": path.name}],
        }
        (mount,) = [m for m in web_container()["volumeMounts"] if m["name"] == volume["name"]]
        assert mount == {"name": volume["name"], "mountPath": str(path.parent), "readOnly": True}
        assert "initContainers" not in web()["spec"]["template"]["spec"]

    def test_the_image_user_reads_the_key_by_the_group_receiver_accepts(self) -> None:
        """The kubelet gives a Secret volume's files to root, group fsGroup, mode defaultMode:
        the image's user reads them through that group, and receiver's rule accepts such a
        file of root's."""
        uid, gid = image_user()
        assert web()["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == gid
        mode = key_secret_volume()["secret"]["defaultMode"]
        assert mode & stat.S_IRGRP
        assert mode_problem(stat.S_IFREG | mode, 0, uid) is None

    def test_the_worker_mounts_no_signing_key(self) -> None:
        """`receiver worker` issues and verifies no tokens; tests/e2e/test_postgres_wakeup.py
        runs one with no signing key file at all (it reads only the KEK, below)."""
        spec = find("Deployment", "receiver-worker")["spec"]["template"]["spec"]
        secrets = [v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v]
        assert secrets == ["receiver-kek"]

    def test_the_secret_volume_file_loads_for_the_pod_user(self) -> None:
        """A key file owned by root, group and mode as the web pod's volume gives it, behind
        the kubelet's symlinks, loaded by receiver's loader as the image's user."""
        if os.geteuid() != 0:
            pytest.skip("needs root: the file must be root's, read as the image's user")
        uid, gid = image_user()
        mode = key_secret_volume()["secret"]["defaultMode"]
        name = PurePosixPath(config()["RECEIVER_SIGNING_KEY_PATH"]).name
        content, _, kids = two_key_files()
        # Not under tmp_path, whose parents only root may enter.
        with tempfile.TemporaryDirectory() as root:
            volume = SecretVolume(Path(root), mode=mode, owner=(0, gid))
            volume.publish({name: content})
            done = subprocess.run(
                [sys.executable, "-c", LOAD_AS_USER, str(Path(root) / name), str(uid), str(gid)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout) == kids[:1]
            with pytest.raises(ConfigError, match="accessible by group"):
                load_key_file(Path(root) / name)  # root's own file: 0600 only, as for root pods

    def test_a_secret_update_reaches_a_running_key_ring(self, tmp_path: Path) -> None:
        """The kubelet swaps `..data`, never the file's own symlink: the key ring looks at the
        file it leads to, so it sees the new keys without a restart."""
        name = PurePosixPath(config()["RECEIVER_SIGNING_KEY_PATH"]).name
        before, after, kids = two_key_files()
        volume = SecretVolume(tmp_path, mode=0o400)
        volume.publish({name: before})
        link = (tmp_path / name).lstat().st_ino
        ring = KeyRing(tmp_path / name, token_ttl_seconds=3600, reload_seconds=0)
        assert list(ring.at(utc_now()).verifying) == kids[:1]
        volume.publish({name: after})
        assert (tmp_path / name).lstat().st_ino == link  # the path the setting names is untouched
        assert list(ring.at(utc_now()).verifying) == kids


class TestEncryptionKey:
    @pytest.mark.parametrize("where", [where for where, _ in pod_specs()])
    def test_every_pod_mounts_the_kek_where_the_setting_points(self, where: str) -> None:
        """Web, worker and the Jobs all open the database, so all read the key-encryption key
        (docs/encryption.md): the Secret whole, read-only, at RECEIVER_ENCRYPTION_KEY_PATH's
        folder, readable through the fsGroup as receiver's rule allows of a root-owned file."""
        spec = dict(pod_specs())[where]
        path = PurePosixPath(config()["RECEIVER_ENCRYPTION_KEY_PATH"])
        (volume,) = [
            v for v in spec["volumes"] if v.get("secret", {}).get("secretName") == "receiver-kek"
        ]
        assert volume["secret"]["items"] == [{"key": path.name, "path": path.name}]
        uid, gid = image_user()
        assert spec["securityContext"]["fsGroup"] == gid
        assert (
            unsafe_mode(stat.S_IFREG | volume["secret"]["defaultMode"], owner=0, euid=uid) is None
        )
        for container in spec["containers"]:
            (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
            assert mount == {
                "name": volume["name"],
                "mountPath": str(path.parent),
                "readOnly": True,
            }
