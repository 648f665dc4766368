"""The IUI 2023 attention score: how typical an image's attention is under a Gaussian mixture of the pool's."""
from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

from backend.active.pool import Pool, Ranking, attention_features, rank_by_utility, register


@register("gmm")
def gmm(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """IUI 2023 sec. 3.5: log-likelihood under a 2-component diagonal GMM (100 EM iterations) fitted on the pool's attention."""
    features = attention_features(pool.require("attention", "gmm"))
    candidates = pool.candidates
    utility = np.full(len(pool), np.nan)
    if len(candidates) >= 2:
        model = GaussianMixture(n_components=2, covariance_type="diag", max_iter=100, reg_covar=1e-4,
                                random_state=int(rng.integers(2**31)))
        model.fit(features[candidates])
        utility[candidates] = model.score_samples(features[candidates])
    else:
        utility[candidates] = 0.0
    return rank_by_utility(pool, utility, rng)
