import numpy as np

from backend.active import Pool, get_strategy


def test_attention_outside_the_box():
    attention = np.zeros((2, 10, 10))
    attention[0, 2:4, 2:4] = 1.0  # inside its box
    attention[1, 8:, 8:] = 1.0  # outside its box
    boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.5]])
    pool = Pool(probabilities=np.full((2, 2), 0.5), attention=attention, boxes=boxes)
    ranking = get_strategy("attention_outside")(pool, 1, np.random.default_rng(0))
    assert ranking.order.tolist() == [1, 0] and ranking.utilities.tolist() == [0.0, 1.0]
