"""The contract every registered strategy honours (scikit-activeml style: one shared test for all of them)."""
import numpy as np
import pytest

from backend.active import STRATEGIES, get_strategy, select_batch
from tests.active.pools import make_pool


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_contract(name):
    strategy = get_strategy(name)
    pool = make_pool()
    first = strategy(pool, 10, np.random.default_rng(1))
    again = strategy(pool, 10, np.random.default_rng(1))
    assert np.array_equal(first.order, again.order)  # deterministic for a seed
    assert len(first.order) == len(set(first.order.tolist())) == 55  # every unannotated image once
    assert not set(first.order.tolist()) & set(range(5))  # annotated excluded
    assert np.all(np.isnan(first.utilities[:5])) and np.all(np.isfinite(first.utilities[5:]))
    ranked_utilities = first.utilities[first.order]
    assert np.all(np.diff(ranked_utilities) <= 1e-9)  # utilities agree with the order
    small = make_pool(n=8, annotated=2)
    ranking = strategy(small, 10, np.random.default_rng(0))
    assert sorted(ranking.order.tolist()) == list(range(2, 8))  # pool smaller than the batch
    batch = select_batch(ranking, small, 10)
    assert sorted(batch.tolist()) == list(range(2, 8))
    per_class = select_batch(first, pool, 9)
    assert len(per_class) == 9 == len(set(per_class.tolist()))
    counts = np.bincount(pool.predicted[per_class], minlength=3)
    available = np.bincount(pool.predicted[pool.candidates], minlength=3)
    assert np.all(counts >= np.minimum(3, available))  # class mix: k / C of each class where possible
