
import numpy as np
import pytest

from backend.strategies import (
    STRATEGIES,
    Pool,
    get_strategy,
    gradient_embeddings,
    select_batch,
    similar_tasks,
)


def make_pool(n=60, classes=3, seed=0, annotated=5):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, classes))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    attention = rng.random((n, 16, 16))
    flags = np.zeros(n, dtype=bool)
    flags[:annotated] = True
    labels = rng.integers(0, classes, n)
    return Pool(probabilities=p, attention=attention, embeddings=rng.normal(size=(n, 8)), annotated=flags, labels=labels)


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


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy"):
        get_strategy("oracle")


def test_entropy_margin_and_confidence_rank_uncertain_first():
    p = np.array([[0.99, 0.01], [0.5, 0.5], [0.8, 0.2]])
    pool = Pool(probabilities=p)
    for name in ("entropy", "margin", "least_confidence"):
        assert get_strategy(name)(pool, 1, np.random.default_rng(0)).order.tolist() == [1, 2, 0]


def test_gmm_ranks_typical_attention_above_outliers():
    rng = np.random.default_rng(0)
    attention = np.zeros((60, 16, 16))
    attention[:30, 4:8, 4:8] = 1.0  # two typical modes: focus top-left or centre
    attention[30:, 6:10, 6:10] = 1.0
    outliers = {7: (12, 0), 23: (0, 12), 51: (12, 12)}  # each looks somewhere nobody else does
    for i, (r, c) in outliers.items():
        attention[i] = 0.0
        attention[i, r : r + 4, c : c + 4] = 1.0
    attention += rng.normal(0, 0.05, attention.shape)
    pool = Pool(probabilities=np.full((60, 2), 0.5), attention=attention)
    order = get_strategy("gmm")(pool, 5, np.random.default_rng(0)).order
    assert set(order[-3:].tolist()) == set(outliers)


def test_coreset_picks_spread_out_points():
    embeddings = np.array([[0, 0], [0.1, 0], [0, 0.1], [10, 10], [10, 10.1], [-10, 5]], dtype=float)
    annotated = np.array([True, False, False, False, False, False])
    pool = Pool(probabilities=np.full((6, 2), 0.5), embeddings=embeddings, annotated=annotated)
    picks = get_strategy("coreset")(pool, 2, np.random.default_rng(0)).order[:2]
    assert set(picks.tolist()) == {3, 5} or set(picks.tolist()) == {4, 5}


def test_badge_gradient_embedding_and_preference_for_uncertain():
    p = np.array([[0.98, 0.02], [0.55, 0.45], [0.6, 0.4]])
    e = np.ones((3, 4))
    g = gradient_embeddings(Pool(probabilities=p, embeddings=e))
    assert g.shape == (3, 8)
    assert np.allclose(g[0, :4], -0.02) and np.allclose(g[0, 4:], 0.02)
    first = get_strategy("badge")(Pool(probabilities=p, embeddings=e), 1, np.random.default_rng(0)).order[0]
    assert first == 1


def test_attention_outside_the_box():
    attention = np.zeros((2, 10, 10))
    attention[0, 2:4, 2:4] = 1.0  # inside its box
    attention[1, 8:, 8:] = 1.0  # outside its box
    boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.5]])
    pool = Pool(probabilities=np.full((2, 2), 0.5), attention=attention, boxes=boxes)
    ranking = get_strategy("attention_outside")(pool, 1, np.random.default_rng(0))
    assert ranking.order.tolist() == [1, 0] and ranking.utilities.tolist() == [0.0, 1.0]


def test_wrong_first_uses_known_labels():
    p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    pool = Pool(probabilities=p, labels=np.array([1, 0, -1]))
    assert get_strategy("wrong_first")(pool, 1, np.random.default_rng(0)).order.tolist() == [0, 1, 2]


def test_similar_tasks_and_the_similar_strategy():
    embeddings = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.95, 0.05], [-1, 0]], dtype=float)
    pool = Pool(probabilities=np.array([[0.9, 0.1]] * 5), embeddings=embeddings,
                annotated=np.array([True, False, False, False, False]), labels=np.array([1, -1, -1, -1, -1]))
    assert [i for i, _ in similar_tasks(pool, [0], 2)] == [3, 1]
    assert get_strategy("similar")(pool, 2, np.random.default_rng(0)).order.tolist()[:2] == [3, 1]


def test_diversity_spreads_a_gmm_batch():
    attention = np.zeros((40, 8, 8))
    rng = np.random.default_rng(0)
    attention[:30, :4, :4] = 1.0  # 30 near-identical typical maps: the GMM's favourites
    attention[30:, 4:, 4:] = 1.0
    attention[:30] += rng.normal(0, 0.01, (30, 8, 8))
    attention[30:] += rng.normal(0, 0.2, (10, 8, 8))
    pool = Pool(probabilities=np.full((40, 2), 0.5), attention=attention)
    plain = get_strategy("gmm")(pool, 4, np.random.default_rng(0)).order[:4]
    diverse = get_strategy("gmm_diverse")(pool, 4, np.random.default_rng(0)).order[:4]
    assert len({int(i >= 30) for i in plain}) == 1
    assert len({int(i >= 30) for i in diverse}) == 2


def test_per_class_fill_versus_plain_top_k():
    p = np.array([[0.9, 0.1]] * 6 + [[0.2, 0.8]] * 2)
    pool = Pool(probabilities=p)
    ranking = get_strategy("least_confidence")(pool, 4, np.random.default_rng(0))
    ranking.order = np.arange(8)  # class 0 ranked first
    assert select_batch(ranking, pool, 4, per_class=False).tolist() == [0, 1, 2, 3]
    assert select_batch(ranking, pool, 4).tolist() == [0, 1, 6, 7]
    assert select_batch(ranking, pool, 6).tolist() == [0, 1, 2, 3, 6, 7]  # class 1 runs short: leftovers fill
