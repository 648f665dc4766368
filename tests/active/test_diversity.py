import numpy as np

from backend.active import Pool, get_strategy


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
