import numpy as np

from backend.active import Pool, get_strategy


def test_entropy_margin_and_confidence_rank_uncertain_first():
    p = np.array([[0.99, 0.01], [0.5, 0.5], [0.8, 0.2]])
    pool = Pool(probabilities=p)
    for name in ("entropy", "margin", "least_confidence"):
        assert get_strategy(name)(pool, 1, np.random.default_rng(0)).order.tolist() == [1, 2, 0]
