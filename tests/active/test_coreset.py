import numpy as np

from backend.active import Pool, get_strategy


def test_coreset_picks_spread_out_points():
    embeddings = np.array([[0, 0], [0.1, 0], [0, 0.1], [10, 10], [10, 10.1], [-10, 5]], dtype=float)
    annotated = np.array([True, False, False, False, False, False])
    pool = Pool(probabilities=np.full((6, 2), 0.5), embeddings=embeddings, annotated=annotated)
    picks = get_strategy("coreset")(pool, 2, np.random.default_rng(0)).order[:2]
    assert set(picks.tolist()) == {3, 5} or set(picks.tolist()) == {4, 5}
