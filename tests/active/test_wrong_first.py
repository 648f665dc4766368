import numpy as np

from backend.active import Pool, get_strategy


def test_wrong_first_uses_known_labels():
    p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    pool = Pool(probabilities=p, labels=np.array([1, 0, -1]))
    assert get_strategy("wrong_first")(pool, 1, np.random.default_rng(0)).order.tolist() == [0, 1, 2]
