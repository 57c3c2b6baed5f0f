"""Validated eligibility items split into Stedi batches of at most N, in order."""

from __future__ import annotations

import pytest

from receiver.eligibility.batching import DEFAULT_BATCH_SIZE, split_batches


class TestSplitBatches:
    @pytest.mark.parametrize(
        ("count", "sizes"),
        [(0, []), (1, [1]), (499, [499]), (500, [500]), (501, [500, 1]), (1250, [500, 500, 250])],
    )
    def test_chunks_of_at_most_500_by_default(self, count, sizes):
        chunks = split_batches(list(range(count)))
        assert [len(chunk) for chunk in chunks] == sizes
        assert DEFAULT_BATCH_SIZE == 500

    def test_order_is_kept_and_nothing_is_lost(self):
        items = [{"submitterTransactionIdentifier": f"S{n}"} for n in range(23)]
        chunks = split_batches(items, size=5)
        assert [len(chunk) for chunk in chunks] == [5, 5, 5, 5, 3]
        assert [item for chunk in chunks for item in chunk] == items

    def test_a_tuple_gives_list_chunks_and_is_untouched(self):
        items = (1, 2, 3)
        assert split_batches(items, size=2) == [[1, 2], [3]]
        assert items == (1, 2, 3)

    @pytest.mark.parametrize("size", [0, -1])
    def test_a_size_below_one_is_a_programming_error(self, size):
        with pytest.raises(ValueError, match="at least 1"):
            split_batches([1], size=size)
