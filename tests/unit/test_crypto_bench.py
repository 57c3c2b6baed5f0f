"""The sealing benchmark runs and reports against its same-run baseline (no timing asserted)."""

from __future__ import annotations

import pytest

from receiver.crypto.bench import SealCost, format_seal_cost, main, measure_seal_cost


def test_measures_every_operation_on_the_body_size_asked() -> None:
    cost = measure_seal_cost(body_bytes=256, rounds=5, repeats=1)
    assert cost.body_bytes == 256
    assert min(cost.seal_us, cost.open_us, cost.sha256_us, cost.copy_us) > 0
    assert cost.seal_open_us == cost.seal_us + cost.open_us


def test_report_shows_the_ratio() -> None:
    cost = SealCost(body_bytes=4096, seal_us=5.0, open_us=4.0, sha256_us=3.0, copy_us=0.5)
    assert cost.ratio_to_sha256 == 3.0
    text = format_seal_cost(cost)
    assert "seal+open of a 4096-byte body: 9.0 us (seal 5.0, open 4.0)" in text
    assert "sha256 3.0 us, bytes copy 0.50 us" in text
    assert "ratio: 3.0x one sha256, 18x one copy" in text


def test_main_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bytes", "64", "--rounds", "3"]) == 0
    assert "ratio:" in capsys.readouterr().out
