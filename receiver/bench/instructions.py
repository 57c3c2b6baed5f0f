"""`receiver bench --instructions`: instructions per request under callgrind (loads of N and 2N,
subtracted), for the baselines, Stedi intake and an end-to-end event; machine noise cancels."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from receiver.bench import baseline as baseline_module, end_to_end, loadgen, peers
from receiver.bench.servers import (
    HOST,
    Server,
    free_port,
    python_module,
    run_pinned,
    wait_healthy,
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

INSTRUCTIONS_REQUESTS = 200  # N: the loads are N and 2N requests (end to end: N/2 and N)
WARMUP = 20  # sent first in both loads, so they cancel out too
START_TIMEOUT_S = 600.0  # python under callgrind starts about 50x slower
STOP_TIMEOUT_S = 300.0
DELIVERY_TIMEOUT_S = 900.0
_SUMMARY = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


def callgrind_total(text: str) -> int:
    """The instructions (Ir) a callgrind.out file counts: its `summary:` line (or, without
    one, its `totals:` line); ValueError if it has neither."""
    found = _SUMMARY.search(text)
    if found is None:
        raise ValueError("no summary or totals line in the callgrind output")
    return int(found.group(1))


@dataclass(frozen=True, slots=True)
class Counted:
    """One load's instructions: every thread's, and the main thread's (the event loop)."""

    total: int
    main: int


def thread_counts(texts: Mapping[int, str]) -> Counted:
    """The count of a `--separate-threads=yes` run from its files' texts by thread number
    (callgrind numbers the main thread 1); ValueError without the main thread's file."""
    totals = {thread: callgrind_total(text) for thread, text in texts.items()}
    if 1 not in totals:
        raise ValueError("no callgrind file for the main thread")
    return Counted(total=sum(totals.values()), main=totals[1])


def per_request(small: int, large: int, requests: int) -> float | None:
    """Instructions per request from totals of loads differing by `requests` requests (start,
    warm-up and shutdown cancel out); None when there is nothing to divide by."""
    return round((large - small) / requests) if requests > 0 else None


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (callgrind writes its file as the program exits), wait, then
    SIGKILL whatever is left of it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@contextmanager
def under_callgrind(
    command: Sequence[str], port: int, env: dict[str, str], out: Path, log: Path
) -> Iterator[Server]:
    """`command` under `valgrind --tool=callgrind` in a session of its own (stopped with all
    it started), healthy on `port`; after the block each thread's count is in a file of its
    own, `out` + `-01` (the main thread), `-02`..."""
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--separate-threads=yes",
        f"--callgrind-out-file={out}",
        *command,
    ]
    env = {**env, "PYTHONHASHSEED": "0"}  # the same hashing in both loads
    with log.open("ab") as sink:
        proc = subprocess.Popen(  # noqa: S603 - valgrind over our own interpreter and module
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    server = Server(proc, port, log)
    try:
        wait_healthy(server, timeout_s=START_TIMEOUT_S, poll_s=0.5, request_timeout_s=5.0)
        yield server
    finally:
        _stop_group(proc)


def _load(server: Server, path: str, headers: dict[str, str], account_id: str, n: int) -> None:
    spec = {
        "host": HOST,
        "port": server.port,
        "path": path,
        "headers": headers,
        "kind": "stedi",
        "account_id": account_id,
        "requests": n,
        "warmup": WARMUP,
        "concurrency": BenchOptions().concurrency,
        "timeout_s": LOADGEN_TIMEOUT_S,
    }
    out = orjson.loads(
        run_pinned(
            python_module(loadgen.__name__),
            orjson.dumps(spec),
            _base_env(),
            None,
            LOADGEN_TIMEOUT_S + 60,
        )
    )
    if out["errors"] or out["warmup_errors"]:
        raise RuntimeError(f"{out['errors']} errors under callgrind: {out.get('statuses')}")


Run = Callable[[Path, int], Counted]  # (workdir, requests) -> instructions counted


def _count(
    workdir: Path,
    command: Sequence[str],
    port: int,
    env: dict[str, str],
    drive: Callable[[Server], None],
) -> Counted:
    out = workdir / "callgrind.out"
    with under_callgrind(command, port, env, out, workdir / "server.log") as server:
        drive(server)
    texts = {
        int(path.name.rsplit("-", 1)[1]): path.read_text(errors="replace")
        for path in workdir.glob(out.name + "-*")
        if path.name.rsplit("-", 1)[1].isdigit()
    }
    return thread_counts(texts)


def baseline_run(durable: bool) -> Run:
    """The minimal app (committing each body to SQLite with `durable`) under n requests."""

    def run(workdir: Path, n: int) -> Counted:
        secret, port = secrets.token_urlsafe(32), free_port()
        env = {
            **_base_env(),
            baseline_module.HEADER_ENV: "x-api-key",
            baseline_module.SECRET_ENV: secret,
        }
        command = python_module(baseline_module.__name__, "--host", HOST, "--port", str(port))
        if durable:
            command += ["--sqlite", str(workdir.resolve() / "durable.db")]
        return _count(
            workdir,
            command,
            port,
            env,
            lambda server: _load(server, STEDI_PATH, {"x-api-key": secret}, "", n),
        )

    return run


def stedi_run(workdir: Path, n: int) -> Counted:
    """`receiver serve --no-workers` under n Stedi webhooks."""
    secret, port, account_id = secrets.token_urlsafe(32), free_port(), str(uuid.uuid4())
    env = receiver_env(workdir, port, **{INBOUND_ENV: secret})
    add_account(env, account_id)
    command = python_module(
        "receiver", "serve", "--host", HOST, "--port", str(port), "--no-workers"
    )
    return _count(
        workdir,
        command,
        port,
        env,
        lambda server: _load(server, STEDI_PATH, {"x-api-key": secret}, account_id, n),
    )


def end_to_end_run(workdir: Path, n: int) -> Counted:
    """`receiver serve` with its worker and dispatcher under n events, each fetched from the
    mock Stedi and delivered to the sink (the peers process is not counted)."""
    inbound, api_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    account_id = str(uuid.uuid4())
    stedi_port, sink_port, port = free_port(), free_port(), free_port()
    stedi_url = f"http://{HOST}:{stedi_port}"
    env = receiver_env(
        workdir,
        port,
        **{
            INBOUND_ENV: inbound,
            end_to_end.API_KEY_ENV: api_key,
            "RECEIVER_STEDI_HEALTHCARE_URL": stedi_url,
            "RECEIVER_STEDI_CORE_URL": stedi_url,
            "RECEIVER_ALLOW_INSECURE_DESTINATIONS": "true",
        },
    )
    peers_command = peers.command(HOST, stedi_port, sink_port)
    peers_proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        peers_command,
        env={**_base_env(), peers.API_KEY_ENV: api_key},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        end_to_end._wait_up(stedi_url)
        sink_url = f"http://{HOST}:{sink_port}"
        end_to_end._setup(env, account_id, sink_url + peers.HOOK_PATH)
        command = python_module("receiver", "serve", "--host", HOST, "--port", str(port))

        def drive(server: Server) -> None:
            ids = [str(uuid.uuid4()) for _ in range(n + WARMUP)]
            end_to_end._send(server, ids, {"x-api-key": inbound}, account_id, BenchOptions(), None)
            end_to_end._wait_for_deliveries(sink_url, n + WARMUP, DELIVERY_TIMEOUT_S)
            count = httpx.get(sink_url + "/count", timeout=10.0).json()["count"]
            if count < n + WARMUP:
                raise RuntimeError(f"end to end under callgrind: {count} of {n + WARMUP}")

        return _count(workdir, command, port, env, drive)
    finally:
        _stop_group(peers_proc)


def measure_instructions(run: Run, root: Path, n: int) -> dict[str, Any]:
    """`run` with loads of n and 2n requests in fresh directories; totals and per request."""
    small_dir, large_dir = root / "n", root / "2n"
    small_dir.mkdir(parents=True)
    large_dir.mkdir(parents=True)
    small, large = run(small_dir, n), run(large_dir, 2 * n)
    main = per_request(small.main, large.main, n)
    total = per_request(small.total, large.total, n)
    return {
        "requests": n,
        "small": small.total,
        "large": large.total,
        "per_request": total,
        # the event loop's share (the main thread) and every other thread's (the SQLite
        # writer, aiosqlite's readers, the executor)
        "event_loop_per_request": main,
        "other_threads_per_request": None if main is None or total is None else total - main,
    }


def run_instructions(requests: int, progress: Progress) -> dict[str, Any]:
    """Every server's instructions per request (end to end: per event, at half the load)."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("--instructions needs valgrind (callgrind) on PATH")
    runs: list[tuple[str, str, Run, int]] = [
        ("baseline", "minimal app", baseline_run(False), requests),
        ("durable", "durable baseline", baseline_run(True), requests),
        ("stedi", "receiver Stedi intake", stedi_run, requests),
        ("end_to_end", "receiver end to end (per event)", end_to_end_run, max(1, requests // 2)),
    ]
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="receiver-bench-callgrind-") as tmp:
        for name, title, run, n in runs:
            progress(f"instructions: {title}, {n} and {2 * n} requests under callgrind")
            found[name] = {"title": title, **measure_instructions(run, Path(tmp) / name, n)}
    per = {name: found[name]["per_request"] for name in found}
    return {
        "tool": "valgrind --tool=callgrind (user-space instructions of every thread, not the "
        "kernel's)",
        "warmup": WARMUP,
        "servers": found,
        # Each as the req/s ratio it stands beside (a CPU-bound rate goes as 1 / instructions):
        # Stedi vs the durable baseline, Stedi vs the bare one, end to end vs Stedi intake.
        "ratios": {
            "stedi_to_durable": _over(per["durable"], per["stedi"]),
            "stedi_to_baseline": _over(per["baseline"], per["stedi"]),
            "end_to_end_to_stedi": _over(per["stedi"], per["end_to_end"]),
        },
    }


def _over(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 3)


def format_instructions(report: Mapping[str, Any]) -> str:
    """The human text of `receiver bench --instructions` (the dict `--json` prints)."""
    from receiver.bench.report import E2E_MIN_RATIO_TO_STEDI, STEDI_MIN_RATIO_TO_DURABLE

    found = report["instructions"]
    lines = [
        f"receiver bench --instructions: {found['tool']}; loads of N and 2N after "
        f"{found['warmup']} warm-up, subtracted, / N",
        "",
        f"{'server':<34}{'N':>6}{'instructions/request':>22}{'event loop':>14}"
        f"{'other threads':>15}",
    ]

    def count(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    for server in found["servers"].values():
        lines.append(
            f"{server['title']:<34}{server['requests']:>6}{count(server['per_request']):>22}"
            f"{count(server.get('event_loop_per_request')):>14}"
            f"{count(server.get('other_threads_per_request')):>15}"
        )
    ratios = found["ratios"]

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines += [
        "",
        "as ratios (1 / instructions, beside the req/s targets):",
        f"  durable / stedi instructions = {shown(ratios['stedi_to_durable'])}"
        f"  (stedi req/s / durable req/s target >= {STEDI_MIN_RATIO_TO_DURABLE:g})",
        f"  baseline / stedi instructions = {shown(ratios['stedi_to_baseline'])}",
        f"  stedi / end-to-end instructions = {shown(ratios['end_to_end_to_stedi'])}"
        f"  (e2e events/s / stedi req/s target >= {E2E_MIN_RATIO_TO_STEDI:g})",
    ]
    return "\n".join(lines)
