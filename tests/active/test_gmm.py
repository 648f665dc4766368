import numpy as np

from backend.active import Pool, get_strategy


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
