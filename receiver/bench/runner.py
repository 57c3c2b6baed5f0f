"""`receiver bench` orchestration: servers in a temp dir, one load per server, the report."""

from __future__ import annotations

import os
import platform
import secrets
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from receiver.bench import (
    baseline as baseline_module,
    end_to_end as end_to_end_scenario,
    loadgen,
    outage as outage_module,
)
from receiver.bench.report import (
    Measurement,
    end_to_end_targets,
    rate_ratio,
    ratio,
    summarize,
    targets,
)
from receiver.bench.servers import (
    HOST,
    Server,
    cpu_split,
    free_port,
    kernel_share,
    pick_cpus,
    python_module,
    run_cli,
    run_pinned,
    running_server,
)
from receiver.bench.setup import (
    INBOUND_ENV,
    LOADGEN_TIMEOUT_S,
    STEDI_PATH,
    BenchOptions,
    Progress,
    _base_env,
    add_account,
    receiver_env,
)

OPTUM_PATH = "/callbacks/optum/coverage-discovery"
OPTUM_SCOPE = "callbacks:coverage-discovery"


@dataclass(frozen=True)
class Load:
    """One load: where to send, which bodies, which credential header."""

    kind: str
    path: str
    headers: Mapping[str, str]
    account_id: str = ""


def measure(server: Server, load: Load, options: BenchOptions, cpu: int | None) -> Measurement:
    """Drive `server` with `load` from a load-generator process; its measurement."""
    spec = {
        "host": HOST,
        "port": server.port,
        "path": load.path,
        "headers": dict(load.headers),
        "kind": load.kind,
        "account_id": load.account_id,
        "requests": options.requests,
        "warmup": options.warmup,
        "concurrency": options.concurrency,
        "body_bytes": options.body_bytes,
        "timeout_s": LOADGEN_TIMEOUT_S,
    }
    cpu_before = cpu_split(server.proc.pid)
    out = run_pinned(
        python_module(loadgen.__name__),
        orjson.dumps(spec),
        _base_env(),
        cpu,
        LOADGEN_TIMEOUT_S + 60,
    )
    cpu_after = cpu_split(server.proc.pid)
    result = orjson.loads(out)
    server_cpu = None
    if cpu_before is not None and cpu_after is not None:
        # Includes warm-up: an upper bound on the measured phase's share.
        server_cpu = (
            (sum(cpu_after) - sum(cpu_before))
            * options.requests
            / (options.requests + options.warmup)
        )
    return summarize(
        result["requests"],
        result["errors"],
        result["elapsed_ns"],
        result["latencies_ns"],
        server_cpu_s=server_cpu,
        loadgen_cpu_s=result["cpu_s"],
        server_kernel=kernel_share(cpu_before, cpu_after),
    )


def run_baseline(
    workdir: Path,
    load: Load,
    header: str,
    secret: str,
    options: BenchOptions,
    cpus: tuple[int, int] | None,
    *,
    durable: bool = False,
) -> Measurement:
    """The minimal Starlette app under `load`, checking `header` against `secret`; with
    `durable`, committing each body to a fresh SQLite file (group commit) before answering."""
    port = free_port()
    env = {**_base_env(), baseline_module.HEADER_ENV: header, baseline_module.SECRET_ENV: secret}
    command = python_module(baseline_module.__name__, "--host", HOST, "--port", str(port))
    name = "baseline"
    if durable:
        name = "durable-baseline"
        command += ["--sqlite", str(workdir.resolve() / f"{name}.db")]
    with running_server(
        command, port, env, workdir / f"{name}.log", cpus[0] if cpus else None
    ) as server:
        return measure(server, load, options, cpus[1] if cpus else None)


def _serve_command(port: int) -> list[str]:
    return python_module("receiver", "serve", "--host", HOST, "--port", str(port), "--no-workers")


def run_stedi(
    workdir: Path, options: BenchOptions, cpus: tuple[int, int] | None, progress: Progress
) -> dict[str, Any]:
    """Stedi webhooks with an x-api-key header: receiver, then the baseline."""
    workdir.mkdir(parents=True)
    secret = secrets.token_urlsafe(32)
    account_id = str(uuid.uuid4())
    load = Load("stedi", STEDI_PATH, {"x-api-key": secret}, account_id)
    port = free_port()
    env = receiver_env(workdir, port, **{INBOUND_ENV: secret})
    add_account(env, account_id)
    progress("stedi: receiver")
    with running_server(
        _serve_command(port), port, env, workdir / "receiver.log", cpus[0] if cpus else None
    ) as server:
        receiver = measure(server, load, options, cpus[1] if cpus else None)
    progress("stedi: baseline")
    base = run_baseline(workdir, load, "x-api-key", secret, options, cpus)
    progress("stedi: durable baseline")
    durable = run_baseline(workdir, load, "x-api-key", secret, options, cpus, durable=True)
    return {
        "title": "Stedi webhook (x-api-key)",
        "baseline": asdict(base),
        "durable": asdict(durable),
        "receiver": asdict(receiver),
        "ratio": ratio(receiver, base),
        "durable_ratio": ratio(durable, base),
        "ratio_to_durable": ratio(receiver, durable),
    }


def fetch_token(url: str, client_id: str, client_secret: str) -> str:
    """One access token from receiver's client-credentials endpoint."""
    resp = httpx.post(
        url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
        timeout=10.0,
    )
    if resp.status_code != 200:
        raise RuntimeError(f"/oauth/token answered {resp.status_code}: {resp.text}")
    return str(resp.json()["access_token"])


def run_optum(
    workdir: Path, options: BenchOptions, cpus: tuple[int, int] | None, progress: Progress
) -> dict[str, Any]:
    """Optum callbacks with a Bearer token from /oauth/token: receiver, then the baseline."""
    workdir.mkdir(parents=True)
    port = free_port()
    env = receiver_env(workdir, port)
    run_cli(["migrate"], env)
    client = orjson.loads(
        run_cli(["clients", "create", "bench-optum", "--scope", OPTUM_SCOPE, "--json"], env)
    )
    progress("optum: receiver")
    with running_server(
        _serve_command(port), port, env, workdir / "receiver.log", cpus[0] if cpus else None
    ) as server:
        token = fetch_token(server.url, client["client_id"], client["client_secret"])
        load = Load("optum", OPTUM_PATH, {"authorization": f"Bearer {token}"})
        receiver = measure(server, load, options, cpus[1] if cpus else None)
    progress("optum: baseline")
    base = run_baseline(workdir, load, "authorization", f"Bearer {token}", options, cpus)
    return {
        "title": "Optum callback (Bearer JWT)",
        "baseline": asdict(base),
        "receiver": asdict(receiver),
        "ratio": ratio(receiver, base),
    }


def machine(cpus: tuple[int, int] | None) -> dict[str, Any]:
    """The machine line of the report."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pinned": {"server_cpu": cpus[0], "loadgen_cpu": cpus[1]} if cpus else None,
    }


def _measurement(scenario: Mapping[str, Any], role: str) -> Measurement | None:
    found = scenario.get(role)
    return Measurement(**found) if isinstance(found, dict) else None


def outage_scenario(
    options: BenchOptions, events: int, store: str, progress: Progress
) -> dict[str, Any]:
    """The outage scenario when it can run (PostgreSQL needs POSTGRES_DSN_ENV), else a row
    saying how to run it."""
    if store == "postgresql" and not os.environ.get(outage_module.POSTGRES_DSN_ENV):
        return {
            "title": "outage recovery",
            "measured": False,
            "outage": True,
            "note": f"not measured: set {outage_module.POSTGRES_DSN_ENV} (or --outage-store "
            "sqlite)",
        }
    return outage_module.run_outage(options, events, store, progress)


def run_bench(
    options: BenchOptions,
    progress: Progress,
    *,
    outage_events: int = outage_module.OUTAGE_EVENTS,
    outage_store: str = "postgresql",
) -> dict[str, Any]:
    """Every scenario in one run, in a temp directory deleted afterwards; the report."""
    cpus = pick_cpus()
    with tempfile.TemporaryDirectory(prefix="receiver-bench-") as tmp:
        root = Path(tmp)
        stedi = run_stedi(root / "stedi", options, cpus, progress)
        optum = run_optum(root / "optum", options, cpus, progress)
        end_to_end = end_to_end_scenario.run_end_to_end(
            root / "end-to-end", options, cpus, progress
        )
    outage = outage_scenario(options, outage_events, outage_store, progress)
    stedi_receiver = _measurement(stedi, "receiver")
    optum["ratio_to_stedi"] = ratio(_measurement(optum, "receiver"), stedi_receiver)
    e2e_to_stedi = rate_ratio(end_to_end.events_per_s, stedi_receiver)
    return {
        "machine": machine(cpus),
        "settings": {
            "requests": options.requests,
            "warmup": options.warmup,
            "concurrency": options.concurrency,
            "body_bytes": options.body_bytes,
        },
        "scenarios": {
            "stedi": {"measured": True, **stedi},
            "optum": {"measured": True, **optum},
            "end_to_end": {
                "title": "end to end (Stedi -> 835 -> sink)",
                **asdict(end_to_end),
                "ratio_to_stedi": e2e_to_stedi,
            },
            "outage": outage,
        },
        "targets": [
            asdict(t)
            for t in [
                *targets(stedi_receiver, stedi["ratio_to_durable"], optum["ratio_to_stedi"]),
                *end_to_end_targets(e2e_to_stedi, end_to_end.paced_p50_ms),
            ]
        ],
    }
