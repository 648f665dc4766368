import numpy as np

from backend.active import Pool, get_strategy, select_batch


def test_per_class_fill_versus_plain_top_k():
    p = np.array([[0.9, 0.1]] * 6 + [[0.2, 0.8]] * 2)
    pool = Pool(probabilities=p)
    ranking = get_strategy("least_confidence")(pool, 4, np.random.default_rng(0))
    ranking.order = np.arange(8)  # class 0 ranked first
    assert select_batch(ranking, pool, 4, per_class=False).tolist() == [0, 1, 2, 3]
    assert select_batch(ranking, pool, 4).tolist() == [0, 1, 6, 7]
    assert select_batch(ranking, pool, 6).tolist() == [0, 1, 2, 3, 6, 7]  # class 1 runs short: leftovers fill
