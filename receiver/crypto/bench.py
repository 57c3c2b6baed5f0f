"""What sealing costs: seal+open of one body against a hash and a copy of it, in the same run.

Run `python -m receiver.crypto.bench [--bytes N] [--rounds N]`, or call `measure_seal_cost`
(from `receiver bench`, say) and render the result with `format_seal_cost`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from receiver.crypto.datakey import new_data_key
from receiver.crypto.envelope import row_aad
from receiver.crypto.keyring import Keyring


@dataclass(frozen=True, slots=True)
class SealCost:
    """Microseconds per operation on one body of `body_bytes` (best of the repeats)."""

    body_bytes: int
    seal_us: float
    open_us: float
    sha256_us: float
    copy_us: float

    @property
    def seal_open_us(self) -> float:
        """One seal and one open: what a value costs written once and read once."""
        return self.seal_us + self.open_us

    @property
    def ratio_to_sha256(self) -> float:
        """seal+open over one SHA-256 of the same body."""
        return self.seal_open_us / self.sha256_us


def measure_seal_cost(*, body_bytes: int = 4096, rounds: int = 2000, repeats: int = 5) -> SealCost:
    """Time seal, open, SHA-256 and a bytes copy of a random body of `body_bytes`."""
    dek = new_data_key(datetime.now(UTC))
    return _measure(Keyring([dek], current_id=dek.id), os.urandom(body_bytes), rounds, repeats)


def _measure(keyring: Keyring, body: bytes, rounds: int, repeats: int) -> SealCost:
    aad = row_aad("inbound_events", "body", "evt_bench")
    sealed = keyring.seal(body, aad=aad)

    def per_op(operation: Callable[[], object]) -> float:
        best = min(_time_loop(operation, rounds) for _ in range(repeats))
        return best / rounds / 1000

    return SealCost(
        body_bytes=len(body),
        seal_us=per_op(lambda: keyring.seal(body, aad=aad)),
        open_us=per_op(lambda: keyring.open(sealed, aad=aad)),
        sha256_us=per_op(lambda: hashlib.sha256(body).digest()),
        copy_us=per_op(lambda: bytearray(body)),
    )


def _time_loop(operation: Callable[[], object], rounds: int) -> int:
    start = time.perf_counter_ns()
    for _ in range(rounds):
        operation()
    return time.perf_counter_ns() - start


def format_seal_cost(cost: SealCost) -> str:
    """The measurement as a few lines of text."""
    return (
        f"seal+open of a {cost.body_bytes}-byte body: {cost.seal_open_us:.1f} us "
        f"(seal {cost.seal_us:.1f}, open {cost.open_us:.1f})\n"
        f"same run, same body: sha256 {cost.sha256_us:.1f} us, bytes copy {cost.copy_us:.2f} us\n"
        f"ratio: {cost.ratio_to_sha256:.1f}x one sha256, "
        f"{cost.seal_open_us / cost.copy_us:.0f}x one copy\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print; exit code 0."""
    parser = argparse.ArgumentParser(prog="python -m receiver.crypto.bench", description=__doc__)
    parser.add_argument("--bytes", type=int, default=4096, help="body size (default 4096)")
    parser.add_argument("--rounds", type=int, default=2000, help="operations per repeat")
    args = parser.parse_args(argv)
    cost = measure_seal_cost(body_bytes=args.bytes, rounds=args.rounds)
    sys.stdout.write(format_seal_cost(cost))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
