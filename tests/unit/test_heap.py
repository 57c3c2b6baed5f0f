"""The start-up heap freeze of `serve` and `worker`."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from receiver.app import freeze_startup_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process must not keep its garbage out of collection


def test_freezing_moves_the_heap_out_of_full_collections(unfrozen: None) -> None:
    assert gc.get_freeze_count() == 0
    freeze_startup_heap()
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # the imported modules at least
    gc.collect()
    assert gc.get_freeze_count() == frozen  # a full collection leaves them where they are
