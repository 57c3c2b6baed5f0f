"""Frozen Settings, loaded from `RECEIVER_*` environment variables and an optional TOML file.

Precedence: environment over TOML file (`RECEIVER_CONFIG=path.toml`, keys are the field names)
over defaults. Every value is validated at load; a bad one raises ConfigError naming the
variable and what it accepts.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from receiver.errors import ConfigError
from receiver.policy import parse_poll_schedule, parse_schedule

PREFIX = "RECEIVER_"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything receiver can be configured with; defaults run with no configuration."""

    database_url: str = "sqlite:///./receiver.db"
    public_url: str = "http://127.0.0.1:8000"
    stedi_healthcare_url: str = "https://healthcare.us.stedi.com/2024-04-01"
    stedi_core_url: str = "https://core.us.stedi.com/2023-08-01"
    stedi_manager_url: str = "https://manager.us.stedi.com/2024-04-01"
    optum_base_url: str = "https://apigw.optum.com"
    optum_token_url: str = "https://apigw.optum.com/apip/auth/v2/token"  # noqa: S105 - a URL
    log_format: str = "console"
    log_level: str = "info"
    allow_insecure_destinations: bool = False
    signing_key_path: str = ""
    encryption_key_path: str = ""
    signing_key_reload_seconds: int = 10
    signing_key_rotation_delay_seconds: int = 900
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    token_ttl_seconds: int = 3600
    client_secret_grace_seconds: int = 24 * 3600
    destination_max_age_seconds: int = 72 * 3600
    destination_max_future_seconds: int = 300
    auth_failure_limit: int = 10
    auth_failure_window_seconds: int = 300
    sqlite_busy_timeout_ms: int = 5000
    worker_lease_seconds: int = 300
    stedi_max_concurrency: int = 5
    stedi_max_response_bytes: int = 32 * 1024 * 1024
    worker_idle_ms: int = 1000
    job_retry_base_seconds: int = 5
    reconcile_interval_seconds: int = 300
    era_poll_idle_ms: int = 1000
    optum_discovery_interval_seconds: int = 300
    sqlite_synchronous: str = "FULL"
    sqlite_group_commit_ms: int = 2
    stedi_download_hosts: str = "*.amazonaws.com"
    delivery_schedule: str = "0,5,300,1800,7200,18000,36000,36000"
    delivery_timeout_seconds: int = 15
    delivery_max_retry_after_seconds: int = 3600
    subscription_max_concurrency: int = 16
    subscription_disable_after_seconds: int = 5 * 24 * 3600
    subscription_secret_grace_seconds: int = 24 * 3600
    token_cache_size: int = 10000
    directory_cache_seconds: int = 2
    replay_max_deliveries: int = 10000
    retention_days: int = 0  # 0: raw bodies and documents are kept forever
    max_header_bytes: int = 32 * 1024
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 10
    keepalive_timeout_seconds: int = 75
    forwarded_allow_ips: str = "127.0.0.1,::1"
    eligibility_max_in_flight: int = 5
    eligibility_deadline_seconds: int = 90
    eligibility_batch_size: int = 500
    eligibility_poll_schedule: str = "5,15,30,60,300"
    eligibility_poll_page_size: int = 100
    eligibility_poll_idle_ms: int = 1000
    eligibility_poll_lease_seconds: int = 300
    outbound_http: str = "aiohttp"

    @property
    def is_sqlite(self) -> bool:
        """True when the store is the embedded SQLite file."""
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file named by `database_url` (`sqlite:///./x.db` or `sqlite:////abs/x.db`)."""
        return Path(self.database_url.removeprefix("sqlite:").removeprefix("//").removeprefix("/"))

    @property
    def resolved_signing_key_path(self) -> Path:
        """Where the ES256 signing key lives: configured, or beside the SQLite file."""
        if self.signing_key_path:
            return Path(self.signing_key_path)
        base = self.sqlite_path.parent if self.is_sqlite else Path()
        return base / "receiver-signing-key.pem"

    @property
    def resolved_encryption_key_path(self) -> Path:
        """Where the key-encryption key file lives: configured, or beside the SQLite file."""
        if self.encryption_key_path:
            return Path(self.encryption_key_path)
        base = self.sqlite_path.parent if self.is_sqlite else Path()
        return base / "receiver-encryption.key"


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _parse_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}")
    return value


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "sqlite"):
        raise ConfigError(f"{name} must be a {' or '.join(schemes)} URL, not {value!r}")
    return value.rstrip("/") if parts.scheme in {"http", "https"} else value


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value.lower() not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value.lower()


def _check_schedule(name: str, value: str) -> str:
    try:
        parse_schedule(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return value


def _check_host_patterns(name: str, value: str) -> str:
    patterns = [item.strip().lower() for item in value.split(",") if item.strip()]
    for pattern in patterns:
        bare = pattern.removeprefix("*.")
        if not bare or "*" in bare or "/" in bare or ":" in bare:
            raise ConfigError(
                f"{name} must be comma-separated host names or *.domain patterns, not {value!r}"
            )
    return ",".join(patterns)


def _check_poll_schedule(name: str, value: str) -> str:
    try:
        parse_poll_schedule(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return value


def _check_addresses(name: str, value: str) -> str:
    items = [item.strip() for item in value.split(",") if item.strip()]
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                f"{name} must be comma-separated IP addresses or networks (or *), not {value!r}"
            ) from None
    return ",".join(items)


_HTTP = ("http", "https")
_CHECKS: dict[str, Callable[[str, str], str]] = {
    "database_url": lambda n, v: _check_url(n, v, ("sqlite", "postgresql", "postgres")),
    "public_url": lambda n, v: _check_url(n, v, _HTTP),
    "stedi_healthcare_url": lambda n, v: _check_url(n, v, _HTTP),
    "stedi_core_url": lambda n, v: _check_url(n, v, _HTTP),
    "stedi_manager_url": lambda n, v: _check_url(n, v, _HTTP),
    "optum_base_url": lambda n, v: _check_url(n, v, _HTTP),
    "optum_token_url": lambda n, v: _check_url(n, v, _HTTP),
    "log_format": lambda n, v: _check_choice(n, v, ("json", "console")),
    "log_level": lambda n, v: _check_choice(n, v, ("debug", "info", "warning", "error")),
    "sqlite_synchronous": lambda n, v: _check_choice(n, v, ("full", "normal", "extra")).upper(),
    "delivery_schedule": lambda n, v: _check_schedule(n, v),
    "stedi_download_hosts": lambda n, v: _check_host_patterns(n, v),
    "forwarded_allow_ips": lambda n, v: _check_addresses(n, v),
    "eligibility_poll_schedule": lambda n, v: _check_poll_schedule(n, v),
    "outbound_http": lambda n, v: _check_choice(n, v, ("aiohttp", "httpx")),
}

# Whole-number settings for which 0 would make no sense (a replay cap of 0 refuses them all,
# a response cap of 0 every answer, a timeout of 0 every connection).
_INT_MINIMUMS = {
    "replay_max_deliveries": 1,
    "auth_failure_window_seconds": 1,
    "stedi_max_response_bytes": 1,
    "max_header_bytes": 1024,
    "header_timeout_seconds": 1,
    "body_timeout_seconds": 1,
    "keepalive_timeout_seconds": 1,
    "eligibility_max_in_flight": 1,
    "eligibility_deadline_seconds": 1,
    "eligibility_batch_size": 1,
    "eligibility_poll_page_size": 1,
    "eligibility_poll_idle_ms": 1,
    "eligibility_poll_lease_seconds": 1,
    "era_poll_idle_ms": 1,
    "job_retry_base_seconds": 1,
}


def _convert(field: dataclasses.Field[Any], name: str, raw: object) -> object:
    if field.type == "bool":
        return raw if isinstance(raw, bool) else _parse_bool(name, str(raw))
    if field.type == "int":
        number = _parse_int(name, str(raw))
        if number < _INT_MINIMUMS.get(field.name, 0):
            raise ConfigError(f"{name} must be at least {_INT_MINIMUMS[field.name]}, got {number}")
        return number
    value = str(raw)
    check = _CHECKS.get(field.name)
    return check(name, value) if check else value


# RECEIVER_* variables that are not settings: the config file's path, the test suite's and the
# bench's own (the bench hands its secrets to the CLI through variables of this prefix).
_NOT_SETTINGS = ("RECEIVER_CONFIG", "RECEIVER_REQUIRE_POSTGRES")
_NOT_SETTINGS_PREFIXES = ("RECEIVER_TEST_", "RECEIVER_BENCH_")


def _refuse_unknown_variables(env: Mapping[str, str], known: Mapping[str, object]) -> None:
    """ConfigError for a RECEIVER_* variable that is no setting (a typo would otherwise be
    ignored in silence), naming the closest setting."""
    names = [PREFIX + name.upper() for name in known]
    for variable in sorted(env):
        if not variable.startswith(PREFIX) or variable in names or variable in _NOT_SETTINGS:
            continue
        if variable.startswith(_NOT_SETTINGS_PREFIXES):
            continue
        close = difflib.get_close_matches(variable, names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"{variable} is not a setting{hint} (docs/configuration.md lists them)")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from the environment (and `RECEIVER_CONFIG`), then `overrides`."""
    env = os.environ if environ is None else environ
    file_values: dict[str, object] = {}
    config_path = env.get(PREFIX + "CONFIG")
    if config_path:
        try:
            file_values = tomllib.loads(Path(config_path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"RECEIVER_CONFIG: cannot read {config_path}: {exc}") from None
    known = {f.name: f for f in dataclasses.fields(Settings)}
    _refuse_unknown_variables(env, known)
    unknown = set(file_values) - set(known)
    if unknown:
        raise ConfigError(f"RECEIVER_CONFIG: unknown settings {', '.join(sorted(unknown))}")
    values: dict[str, object] = {}
    for name, field in known.items():
        env_name = PREFIX + name.upper()
        if env_name in env:
            values[name] = _convert(field, env_name, env[env_name])
        elif name in file_values:
            values[name] = _convert(field, f"{config_path}: {name}", file_values[name])
    for name, value in overrides.items():
        if name not in known:
            raise ConfigError(f"unknown setting {name}")
        values[name] = _convert(known[name], name, value)
    return Settings(**values)  # type: ignore[arg-type]
