"""What every bench scenario shares: options, results, the environment, the bench account."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from receiver.bench.payloads import BODY_BYTES
from receiver.bench.servers import (
    HOST,
    run_cli,
)

ACCOUNT = "bench"


STEDI_PATH = f"/webhooks/stedi/{ACCOUNT}"


INBOUND_ENV = "RECEIVER_BENCH_INBOUND"


LOADGEN_TIMEOUT_S = 600.0


Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    """What one `receiver bench` run sends to each server."""

    requests: int = 20000
    concurrency: int = 32
    body_bytes: int = BODY_BYTES

    @property
    def warmup(self) -> int:
        """Requests sent first and not counted: 5% (at least one)."""
        return max(1, self.requests // 20)


@dataclass(frozen=True)
class EndToEndResult:
    """Stedi event in -> 835 fetched from a mock -> delivered to a sink."""

    measured: bool
    note: str | None = None
    events_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int | None = None
    events: int | None = None
    server_cpu: float | None = None
    server_kernel: float | None = None  # the share of the server's CPU that was the kernel's
    paced_rate: float | None = None  # events/s sent one at a time, below saturation
    paced_p50_ms: float | None = None
    paced_p99_ms: float | None = None
    paced_errors: int | None = None


def _base_env() -> dict[str, str]:
    """This environment without any RECEIVER_* setting that could point elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}


def receiver_env(workdir: Path, port: int, **extra: str) -> dict[str, str]:
    """Settings for a receiver on a fresh SQLite file in `workdir`, logging warnings only."""
    return {
        **_base_env(),
        "RECEIVER_DATABASE_URL": f"sqlite:///{workdir.resolve() / 'receiver.db'}",
        "RECEIVER_SIGNING_KEY_PATH": str(workdir.resolve() / "receiver-signing-key.pem"),
        "RECEIVER_PUBLIC_URL": f"http://{HOST}:{port}",
        "RECEIVER_LOG_LEVEL": "warning",
        "RECEIVER_LOG_FORMAT": "json",
        "RECEIVER_RECONCILE_INTERVAL_SECONDS": "0",
        # Nothing may reach Stedi from a bench, even if a worker were started.
        "RECEIVER_STEDI_HEALTHCARE_URL": f"http://{HOST}:9",
        "RECEIVER_STEDI_CORE_URL": f"http://{HOST}:9",
        **extra,
    }


def account_args(account_id: str, *extra: str) -> list[str]:
    """The `receiver` arguments adding the bench's Stedi account: inbound `x-api-key` from
    INBOUND_ENV, plus `extra` options."""
    return [
        "accounts", "add", ACCOUNT, "--stedi-account-id", account_id,
        "--inbound-header", "x-api-key", "--inbound-secret-env", INBOUND_ENV, *extra,
    ]  # fmt: skip


def add_account(env: dict[str, str], account_id: str, *extra: str) -> None:
    """The bench's Stedi account (`account_args`), in a database `migrate` creates first."""
    run_cli(["migrate"], env)
    run_cli(account_args(account_id, *extra), env)
