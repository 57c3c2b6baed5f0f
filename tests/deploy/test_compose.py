"""deploy/compose.yaml and deploy/nginx.conf: the compose-spec schema, the start order, the
shared key, and that every command, setting, port and path they name exists."""

from __future__ import annotations

import importlib.util
import ipaddress
import re
import shutil
import subprocess
import sys
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from receiver.settings import Settings
from tests.deploy.surface import (
    ALL_INTERFACES,
    DEPLOY,
    REPO,
    check_settings,
    get_routes,
    interpolate,
    option_value,
    parse_invocation,
)

COMPOSE = DEPLOY / "compose.yaml"
NGINX = DEPLOY / "nginx.conf"
RECEIVER_SERVICES = ("migrate", "web", "worker")


def compose() -> dict[str, Any]:
    """The compose file as compose reads it (YAML merge keys applied)."""
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


def service(name: str) -> dict[str, Any]:
    found = compose()["services"][name]
    assert isinstance(found, dict)
    return found


def nginx_directives() -> list[list[str]]:
    """nginx.conf's simple directives as word lists (comments dropped, blocks flattened)."""
    text = re.sub(r"#[^\n]*", "", NGINX.read_text())
    return [statement.split() for statement in re.split(r"[;{}]", text) if statement.strip()]


def test_matches_the_compose_specification() -> None:
    """check-jsonschema's vendored compose-spec schema, which refuses unknown keys."""
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


class TestStartOrder:
    def test_postgres_has_a_health_check_over_tcp(self) -> None:
        test = service("postgres")["healthcheck"]["test"]
        assert test[:2] == ["CMD", "pg_isready"]
        assert "--host=127.0.0.1" in test

    def test_migration_runs_once_after_postgres_is_healthy(self) -> None:
        migrate = service("migrate")
        assert migrate["command"] == ["migrate"]
        parse_invocation(migrate["command"])
        assert migrate["restart"] == "no"
        assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}

    @pytest.mark.parametrize("name", ["web", "worker"])
    def test_web_and_worker_wait_for_the_migration(self, name: str) -> None:
        assert service(name)["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }

    def test_proxy_waits_for_healthy_web(self) -> None:
        assert service("proxy")["depends_on"] == {"web": {"condition": "service_healthy"}}


class TestCommands:
    @pytest.mark.parametrize("name", RECEIVER_SERVICES)
    def test_every_command_parses(self, name: str) -> None:
        parse_invocation(service(name)["command"])

    def test_two_web_replicas_without_workers(self) -> None:
        web = service("web")
        assert web["deploy"]["replicas"] == 2
        ctx = parse_invocation(web["command"])
        assert ctx.info_name == "serve"
        assert ctx.params["no_workers"] is True
        assert ctx.params["host"] == ALL_INTERFACES
        assert "ports" not in web, "replicas cannot share a host port: the proxy publishes it"

    def test_one_worker(self) -> None:
        assert service("worker")["command"] == ["worker"]
        assert "deploy" not in service("worker")

    @pytest.mark.parametrize("name", ["migrate", "worker"])
    def test_image_health_check_is_off_where_nothing_serves_http(self, name: str) -> None:
        assert service(name)["healthcheck"] == {"disable": True}

    def test_worker_grace_period_outlasts_a_delivery_attempt(self) -> None:
        grace = service("worker")["stop_grace_period"]
        assert grace.endswith("s")
        assert int(grace[:-1]) > Settings().delivery_timeout_seconds


class TestSettings:
    @pytest.mark.parametrize("name", RECEIVER_SERVICES)
    def test_environment_holds_receiver_settings_it_accepts(self, name: str) -> None:
        environment = service(name)["environment"]
        check_settings({key: interpolate(value) for key, value in environment.items()})

    def test_database_url_names_the_postgres_service(self) -> None:
        url = interpolate(service("web")["environment"]["RECEIVER_DATABASE_URL"])
        postgres = service("postgres")["environment"]
        user, database = postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]
        assert url == f"postgresql://{user}:x@postgres:5432/{database}"
        assert "${POSTGRES_PASSWORD:?" in service("web")["environment"]["RECEIVER_DATABASE_URL"]
        assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def key_path() -> PurePosixPath:
    return PurePosixPath(compose()["x-receiver"]["environment"]["RECEIVER_SIGNING_KEY_PATH"])


def signing_volume() -> dict[str, Any]:
    (volume,) = [v for v in service("web")["volumes"] if v["source"] == "./secrets"]
    assert isinstance(volume, dict)
    return volume


KEK_VOLUME = {
    "type": "bind",
    "source": "./kek",
    "target": "/run/secrets/receiver-kek",
    "read_only": True,
}


class TestSigningKey:
    def test_web_mounts_the_key_folder_where_the_setting_points(self) -> None:
        """The folder, read-only: `keys rotate` replaces the file, which a bind mount of the
        file itself (compose `secrets`) would never show a running replica."""
        volume = signing_volume()
        assert volume == {
            "type": "bind",
            "source": "./secrets",
            "target": str(key_path().parent),
            "read_only": True,
        }
        assert "secrets" not in compose()

    def test_the_worker_mounts_no_signing_key(self) -> None:
        """`receiver worker` issues and verifies no tokens (tests/e2e/test_postgres_wakeup.py
        runs one with no signing key file): it mounts the KEK's folder only."""
        assert service("worker")["volumes"] == [KEK_VOLUME]

    def test_key_file_stays_out_of_git(self) -> None:
        volume = signing_volume()
        key = f"deploy/{volume['source'].removeprefix('./')}/{key_path().name}"
        assert (REPO / key).parent.is_dir()
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        done = subprocess.run(["git", "check-ignore", "--quiet", key], cwd=REPO, check=False)
        if done.returncode == 128:
            pytest.skip("not a git work tree")
        assert done.returncode == 0, "git would track the signing key"


class TestPaths:
    def test_build_context_and_dockerfile_exist(self) -> None:
        build = service("web")["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == REPO
        assert (context / build["dockerfile"]).is_file()

    def test_nginx_config_is_mounted_into_conf_d(self) -> None:
        (config,) = service("proxy")["configs"]
        assert (DEPLOY / compose()["configs"][config["source"]]["file"]).resolve() == NGINX
        assert config["target"] == "/etc/nginx/conf.d/default.conf"


class TestProxy:
    def test_upstream_is_the_web_service_on_the_served_port(self) -> None:
        (server,) = [d for d in nginx_directives() if d[0] == "server" and len(d) > 1]
        port = option_value(service("web")["command"], "--port")
        assert server[1:] == [f"web:{port}", "resolve"]

    def test_publishes_the_port_it_listens_on(self) -> None:
        (listen,) = [d for d in nginx_directives() if d[0] == "listen"]
        (published,) = service("proxy")["ports"]
        assert published.split(":")[-1] == listen[1]

    def test_body_limit_leaves_the_413_to_receiver(self) -> None:
        (limit,) = [d for d in nginx_directives() if d[0] == "client_max_body_size"]
        assert limit[1].endswith("m")
        assert int(limit[1][:-1]) * 1024 * 1024 > Settings().max_body_bytes

    def test_nginx_is_new_enough_for_resolve_in_upstream(self) -> None:
        """`server ... resolve` in an upstream block came with nginx 1.27.3."""
        name, _, tag = service("proxy")["image"].partition(":")
        assert name == "nginx"
        assert tuple(int(part) for part in tag.split(".")) >= (1, 27, 3)

    def test_metrics_are_not_served_through_the_balancer(self) -> None:
        assert "/metrics" in get_routes()
        text = NGINX.read_text()
        assert re.search(r"location = /metrics \{\s*return 404;\s*\}", text)

    def test_web_trusts_forwarded_addresses_from_the_proxy_only(self) -> None:
        """The token endpoint's lock-out counts per client address: web must take the address
        from X-Forwarded-For when, and only when, nginx sent the request."""
        proxy_address = service("proxy")["networks"]["default"]["ipv4_address"]
        (subnet,) = compose()["networks"]["default"]["ipam"]["config"]
        assert ipaddress.ip_address(proxy_address) in ipaddress.ip_network(subnet["subnet"])
        trusted = service("web")["environment"]["RECEIVER_FORWARDED_ALLOW_IPS"]
        assert trusted == proxy_address


class TestEncryptionKey:
    @pytest.mark.parametrize("name", RECEIVER_SERVICES)
    def test_every_receiver_service_mounts_the_kek_folder_where_the_setting_points(
        self, name: str
    ) -> None:
        """Each opens the database, so each reads the key-encryption key (docs/encryption.md)."""
        path = PurePosixPath(service(name)["environment"]["RECEIVER_ENCRYPTION_KEY_PATH"])
        assert KEK_VOLUME in service(name)["volumes"]
        assert str(path.parent) == KEK_VOLUME["target"]

    def test_kek_file_stays_out_of_git(self) -> None:
        path = PurePosixPath(compose()["x-receiver"]["environment"]["RECEIVER_ENCRYPTION_KEY_PATH"])
        key = f"deploy/kek/{path.name}"
        assert (REPO / key).parent.is_dir()
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        done = subprocess.run(["git", "check-ignore", "--quiet", key], cwd=REPO, check=False)
        if done.returncode == 128:
            pytest.skip("not a git work tree")
        assert done.returncode == 0, "git would track the key-encryption key"
