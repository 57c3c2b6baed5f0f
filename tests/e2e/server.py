"""Helpers for end-to-end tests: a real `python -m receiver serve` process over loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import default_tls

HEALTH_TIMEOUT_S = 15.0
HEALTH_POLL_S = 0.02


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """A user's environment: PATH and HOME only, JSON logs, plus `extra`."""
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    env["RECEIVER_LOG_FORMAT"] = "json"
    env.update(extra)
    return env


def run_cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`python -m receiver ARGS` in `cwd` with a clean environment; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "receiver", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def run_cli_json(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(run_cli(cwd, *args, "--json", env=env))


def shared_key(directory: Path) -> dict[str, str]:
    """A signing key file made with `receiver keys generate` and a key-encryption key file made
    with `receiver keys create-kek` in `directory`, as the settings every process on
    PostgreSQL is given (`serve` reads both; `worker` needs only the KEK)."""
    path = directory / "signing-keys.pem"
    run_cli(directory, "keys", "generate", str(path))
    kek = directory / "receiver-encryption.key"
    run_cli(directory, "keys", "create-kek", str(kek))
    return {"RECEIVER_SIGNING_KEY_PATH": str(path), "RECEIVER_ENCRYPTION_KEY_PATH": str(kek)}


class Server:
    """One `receiver serve` subprocess; stderr goes to a file (no pipe to fill up)."""

    def __init__(self, cwd: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.log_path = log_path
        self.env = env or clean_env()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, workers: bool = True) -> Server:
        """Run `receiver serve` (web only with `workers=False`) and wait until healthy."""
        args = ["serve", "--port", str(self.port)] + ([] if workers else ["--no-workers"])
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "receiver", *args],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                umask=0o022,
            )
        self.wait_healthy()
        return self

    def wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        with httpx.Client(timeout=1.0, verify=default_tls()) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"server exited {self.proc.returncode}: {self.log_text()}")
                try:
                    if http.get(self.url + "/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(HEALTH_POLL_S)
        raise AssertionError(f"server not healthy after {HEALTH_TIMEOUT_S}s: {self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, and check the exit was clean.

        uvicorn shuts down gracefully, then re-raises the signal it caught, so a clean exit
        is either 0 or "terminated by SIGTERM".
        """
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        assert code in (0, -signal.SIGTERM), (code, self.log_text())

    def kill(self) -> None:
        """SIGKILL (idempotent) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=10)


def spawn_worker(cwd: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a `receiver worker` process, its output appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "receiver", "worker"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
