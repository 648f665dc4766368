import numpy as np
import pytest

from backend.active import Pool, get_strategy
from backend.active.pool import attention_features, distances_to, rank_by_utility


def test_rank_by_utility_ranks_candidates_only_highest_first():
    pool = Pool(probabilities=np.full((4, 2), 0.5), annotated=np.array([False, True, False, False]))
    ranking = rank_by_utility(pool, np.array([0.1, 9.0, 0.5, 0.3]), np.random.default_rng(0))
    assert ranking.order.tolist() == [2, 3, 0]
    assert np.isnan(ranking.utilities[1]) and ranking.utilities[2] == 0.5


def test_pool_knows_candidates_and_requires_fields():
    pool = Pool(probabilities=np.array([[0.2, 0.8], [0.9, 0.1]]), annotated=np.array([True, False]))
    assert pool.candidates.tolist() == [1] and pool.annotated_indices.tolist() == [0] and pool.predicted.tolist() == [1, 0]
    try:
        pool.require("embeddings", "coreset")
    except ValueError as exc:
        assert "coreset" in str(exc)
    else:
        raise AssertionError("a missing field must be refused")


def test_attention_features_and_distances():
    maps = np.zeros((1, 16, 16), dtype=np.float32)
    maps[0, :2, :2] = 1.0
    features = attention_features(maps, side=8)
    assert features.shape == (1, 64) and features[0, 0] == 1.0 and features[0, 1:].sum() == 0
    points = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert np.allclose(distances_to(points, np.array([[0.0, 0.0], [3.0, 0.0]])), [0.0, 4.0])


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy"):
        get_strategy("oracle")
