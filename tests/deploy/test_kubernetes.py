"""deploy/kubernetes/: strict schema validation against pinned Kubernetes versions, the
kustomization, pod security, probes, the shared key, and that every command, setting, port
and path the manifests name exists."""

from __future__ import annotations

import functools
import inspect
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from receiver.auth.keys import load_or_create_signing_key
from receiver.errors import ConfigError
from receiver.settings import Settings
from receiver.upstream.stedi import StediClient
from tests.deploy.surface import (
    ALL_INTERFACES,
    KUBERNETES,
    SETTING_NAMES,
    check_settings,
    get_routes,
    option_value,
    parse_invocation,
)
from tests.deploy.test_dockerfile import image_user

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
    """Containers that run the image's entrypoint (not the init containers' python)."""
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


def signing_key_init(deployment: str) -> dict[str, Any]:
    spec = find("Deployment", deployment)["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    assert isinstance(init, dict)
    return init


class TestSigningKey:
    @pytest.mark.parametrize("deployment", ["receiver-web", "receiver-worker"])
    def test_key_reaches_the_path_the_setting_names(self, deployment: str) -> None:
        """Secret volume -> init container's source; its target = RECEIVER_SIGNING_KEY_PATH,
        on an in-memory volume the receiver container mounts read-only at the same place."""
        spec = find("Deployment", deployment)["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        init = signing_key_init(deployment)
        source, target = init["command"][3:]
        assert target == config()["RECEIVER_SIGNING_KEY_PATH"]
        mounts = {m["mountPath"]: m for m in init["volumeMounts"]}
        secret_mount = mounts[str(Path(source).parent)]
        secret = volumes[secret_mount["name"]]["secret"]
        assert secret["secretName"] == "receiver-signing-key"
        assert secret["items"] == [{"key": Path(source).name, "path": Path(source).name}]
        copy_volume = mounts[str(Path(target).parent)]["name"]
        assert volumes[copy_volume]["emptyDir"]["medium"] == "Memory"
        (container,) = spec["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == copy_volume]
        assert mount == {
            "name": copy_volume,
            "mountPath": str(Path(target).parent),
            "readOnly": True,
        }

    def test_web_and_worker_copy_the_key_the_same_way(self) -> None:
        assert signing_key_init("receiver-web") == signing_key_init("receiver-worker")

    def test_copy_turns_a_secret_volume_file_into_a_key_receiver_loads(
        self, tmp_path: Path
    ) -> None:
        """Runs the init container's script on a file shaped like a Secret volume with fsGroup
        (mode 0440), which receiver refuses, and loads the copy it makes."""
        secret = tmp_path / "secret" / "signing-key.pem"
        load_or_create_signing_key(tmp_path / "made.pem")
        secret.parent.mkdir()
        secret.write_bytes((tmp_path / "made.pem").read_bytes())
        os.chmod(secret, 0o440)
        with pytest.raises(ConfigError, match="accessible by group or others"):
            load_or_create_signing_key(secret)
        copy = tmp_path / "run" / "signing-key.pem"
        copy.parent.mkdir()
        python, flag, script = signing_key_init("receiver-web")["command"][:3]
        assert (python, flag) == ("python", "-c")
        subprocess.run(
            [sys.executable, "-c", script, str(secret), str(copy)], check=True, timeout=30
        )
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert (
            load_or_create_signing_key(copy).kid
            == load_or_create_signing_key(tmp_path / "made.pem").kid
        )
