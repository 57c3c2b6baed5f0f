"""`receiver demo` as a newcomer runs it: one process, offline, that prints each stage and
exits 0; with `--keep` it stays up with a token that works, until SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.server import clean_env

STAGES = [
    "received   stedi transaction.processed.v2, INBOUND 277: stored as evt_",
    "fetched    the 277CA report of transaction 8b2e4f6a-1c3d-4e5f-9a7b-0c1d2e3f4a62",
    "delivered  claim.acknowledgment.received (signature verified): claim SYN0001842",
    "sends it again (senders retry): duplicate, nothing new",
    "received   stedi transaction.processed.v2, INBOUND 835: stored as evt_",
    "fetched    the 835 ERA report of transaction c4e6a8f0-2d4b-4c6e-8a0f-1e3d5c7b9a84",
    "delivered  claim.remittance.received (signature verified): claim SYN0001842 paid 132.40",
    "sends a Coverage Discovery callback: 204",
    "received   optum coverage_discovery.task: stored as evt_",
    "delivered  coverage_discovery.completed (signature verified): task ",
    "received   stedi transaction.processed.v2, OUTBOUND 837: found by reconciliation",
    "fetched    the 837 X12 of transaction 0f3a9c2e-6b1d-4e8a-9c47-2d5e8f1a7b30",
    "claim      SYN0001842: acknowledgment, remittance, submitted",
    "done: 4 events received, 3 messages delivered, every signature verified",
]


def demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """`receiver demo ARGS` in `tmp_path/work` (its temporary directory too); stderr goes to
    `tmp_path/demo.err`."""
    work = tmp_path / "work"
    work.mkdir()
    with (tmp_path / "demo.err").open("w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "receiver", "demo", *args],
            cwd=work,
            env=clean_env(TMPDIR=str(work)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )


def assert_in_order(out: str, expected: list[str]) -> None:
    at = 0
    for text in expected:
        found = out.find(text, at)
        assert found >= 0, (text, out)
        at = found + len(text)


def test_the_demo_prints_every_stage_and_exits_0(tmp_path: Path) -> None:
    with demo(tmp_path) as proc:
        try:
            out, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
    err = (tmp_path / "demo.err").read_text()
    assert proc.returncode == 0, (out, err)
    assert_in_order(out, STAGES)
    assert "SIGNATURE NOT VERIFIED" not in out
    assert "Traceback" not in err
    assert list((tmp_path / "work").iterdir()) == []  # its database and key are gone


def test_demo_keep_stays_up_with_a_ready_token_until_sigterm(tmp_path: Path) -> None:
    lines: list[str] = []
    with demo(tmp_path, "--keep") as proc:
        assert proc.stdout is not None
        try:
            deadline = time.monotonic() + 60
            while not any(line.startswith("  curl ") for line in lines):
                assert time.monotonic() < deadline, lines
                line = proc.stdout.readline()
                assert line, ("the demo exited", lines, (tmp_path / "demo.err").read_text())
                lines.append(line)
            out = "".join(lines)
            assert_in_order(out, STAGES)
            url = re.search(r"^  receiver +(http://127\.0\.0\.1:\d+)$", out, re.MULTILINE)
            token = re.search(r"^  token +(\S+)$", out, re.MULTILINE)
            assert url, out
            assert token, out
            events = httpx.get(
                url[1] + "/events", headers={"authorization": f"Bearer {token[1]}"}, timeout=5
            )
            assert events.status_code == 200, events.text
            assert len(events.json()["items"]) == 4
            assert proc.poll() is None  # still running
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
        finally:
            proc.kill()
    assert list((tmp_path / "work").iterdir()) == []  # its database and key are gone
