"""Bench processes: free loopback ports, CPU pinning, server start/stop, CPU time used."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pick_cpus() -> tuple[int, int] | None:
    """(server CPU, load generator CPU): two distinct CPUs we may run on, or None."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    usable = sorted(os.sched_getaffinity(0))
    return (usable[0], usable[1]) if len(usable) >= 2 else None


def pin(pid: int, cpu: int | None) -> None:
    """Keep process `pid` (and the threads it starts later) on `cpu`, where supported."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, {cpu})


def cpu_split(pid: int) -> tuple[float, float] | None:
    """User and system (kernel) CPU seconds process `pid` has used so far (all threads), or
    None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time process `pid` has used so far (all threads), or None."""
    split = cpu_split(pid)
    return None if split is None else split[0] + split[1]


def kernel_share(
    before: tuple[float, float] | None, after: tuple[float, float] | None
) -> float | None:
    """The share of the CPU used between two `cpu_split`s that was the kernel's (socket
    writes, the WAL's writes and fsyncs), or None."""
    if before is None or after is None:
        return None
    user, system = after[0] - before[0], after[1] - before[1]
    return round(system / (user + system), 3) if user + system > 0 else None


def python_module(module: str, *args: str) -> list[str]:
    """The command line running `python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]


@dataclass
class Server:
    """A running server process on a loopback port."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, limit: int = 2000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-limit:]


def wait_healthy(
    server: Server,
    *,
    timeout_s: float = START_TIMEOUT_S,
    poll_s: float = 0.05,
    request_timeout_s: float = 1.0,
) -> None:
    """Return once `server` answers /healthz 200; RuntimeError (with its log's tail) if it
    exits or is not healthy within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}: {server.log_tail()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=request_timeout_s).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(poll_s)
    raise RuntimeError(f"server not healthy after {timeout_s}s: {server.log_tail()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def running_server(
    command: Sequence[str], port: int, env: dict[str, str], log_path: Path, cpu: int | None
) -> Iterator[Server]:
    """Start `command` (it listens on `port`), pinned to `cpu`; wait for /healthz; stop after."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            list(command), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        pin(proc.pid, cpu)
        server = Server(proc, port, log_path)
        wait_healthy(server)
        yield server
    finally:
        _stop(proc)


@contextmanager
def running_process(
    command: Sequence[str], env: dict[str, str], log_path: Path, cpu: int | None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` (no port to wait for), pinned to `cpu`; stop it after."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            list(command), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        pin(proc.pid, cpu)
        yield proc
    finally:
        _stop(proc)


def run_pinned(
    command: Sequence[str], stdin: bytes, env: dict[str, str], cpu: int | None, timeout_s: float
) -> bytes:
    """Run `command` to completion on `cpu` with `stdin`; its stdout, or RuntimeError."""
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        list(command),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pin(proc.pid, cpu)
    try:
        out, err = proc.communicate(stdin, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"{' '.join(command[1:])} did not finish in {timeout_s}s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} failed: {err.decode(errors='replace')}")
    return out


def run_cli(args: Sequence[str], env: dict[str, str]) -> str:
    """`python -m receiver ARGS` to completion; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        python_module("receiver", *args), env=env, capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"receiver {args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()
