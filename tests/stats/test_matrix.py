"""Grouping helpers of the statistics engine, against numpy's own."""

from __future__ import annotations

import numpy as np
import pytest

from evalplatform.stats.matrix import factorize


@pytest.mark.parametrize(("n", "high"), [(1, 1), (7, 3), (1_000, 50), (100_000, 6**5), (5_000, 10**12)])
def test_factorize_groups_like_np_unique_for_small_and_large_key_spaces(n, high):
    # Small key spaces are counted (bincount), large ones sorted: both must agree with np.unique.
    keys = np.random.default_rng(n).integers(0, high, n)
    first, inverse, sizes = factorize(keys)
    distinct, inverse_ref, sizes_ref = np.unique(keys, return_inverse=True, return_counts=True)
    assert (keys[first] == distinct).all()
    assert (inverse == inverse_ref.reshape(-1)).all()
    assert (sizes == sizes_ref).all()


def test_factorize_of_nothing_is_empty():
    assert all(part.size == 0 for part in factorize(np.zeros(0, dtype=np.int64)))
