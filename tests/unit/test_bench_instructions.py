"""The instruction counts' pure parts: callgrind's summary line, N vs 2N, /metrics gauges."""

from __future__ import annotations

import pytest

from receiver.bench.instructions import (
    Counted,
    callgrind_total,
    format_instructions,
    per_request,
    thread_counts,
)
from receiver.bench.outage import states

# The head and tail of a callgrind.out file as valgrind 3.19 writes it.
CALLGRIND_OUT = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  /usr/bin/python3 -m receiver serve --host 127.0.0.1 --port 40123 --no-workers
part: 1

desc: I1 cache:
desc: Timerange: Basic block 0 - 912837465
desc: Trigger: Program termination

positions: line
events: Ir
summary: 9876543210

fl=(1) ???
fn=(1) 0x0000000000001100
0 3
totals: 9876543210
"""


def test_callgrind_total_reads_the_summary_line() -> None:
    assert callgrind_total(CALLGRIND_OUT) == 9_876_543_210


def test_callgrind_total_falls_back_to_totals_and_refuses_neither() -> None:
    assert callgrind_total("events: Ir\n0 5\ntotals: 1234\n") == 1234
    with pytest.raises(ValueError, match="no summary"):
        callgrind_total("events: Ir\n0 5\n")


def test_thread_counts_sum_every_thread_and_keep_the_main_one() -> None:
    texts = {1: "summary: 700\n", 2: "summary: 5\n", 4: "totals: 295\n"}
    assert thread_counts(texts) == Counted(total=1000, main=700)
    with pytest.raises(ValueError, match="main thread"):
        thread_counts({2: "summary: 5\n"})


def test_the_report_shows_the_event_loop_and_the_other_threads_apart() -> None:
    server = {
        "title": "receiver Stedi intake",
        "requests": 200,
        "per_request": 1_119_978,
        "event_loop_per_request": 877_791,
        "other_threads_per_request": 242_187,
    }
    report = {
        "instructions": {
            "tool": "valgrind --tool=callgrind",
            "warmup": 20,
            "servers": {"stedi": server},
            "ratios": {
                "stedi_to_durable": 0.326,
                "stedi_to_baseline": None,
                "end_to_end_to_stedi": 0.151,
            },
        }
    }
    lines = format_instructions(report).splitlines()
    assert lines[2].split() == ["server", "N", "instructions/request", "event", "loop", "other",
                                "threads"]  # fmt: skip
    assert lines[3].split()[-4:] == ["200", "1,119,978", "877,791", "242,187"]
    assert "baseline / stedi instructions = -" in "\n".join(lines)


def test_per_request_subtracts_the_fixed_cost() -> None:
    # start-up, warm-up and shutdown (1e9) are in both totals; 200 more requests cost 2e8
    assert per_request(1_000_000_000 + 200 * 1_000_000, 1_000_000_000 + 400 * 1_000_000, 200) == (
        1_000_000
    )
    assert per_request(5, 9, 0) is None


def test_states_reads_a_gauge_by_state() -> None:
    text = (
        "# HELP receiver_jobs Follow-up jobs by state\n"
        "# TYPE receiver_jobs gauge\n"
        'receiver_jobs{state="pending"} 0.0\n'
        'receiver_jobs{state="done"} 5000.0\n'
        'receiver_deliveries{state="delivered"} 5000.0\n'
    )
    assert states(text, "receiver_jobs") == {"pending": 0, "done": 5000}
    assert states(text, "receiver_deliveries") == {"delivered": 5000}
