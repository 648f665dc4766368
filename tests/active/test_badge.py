import numpy as np

from backend.active import Pool, get_strategy
from backend.active._badge import gradient_embeddings


def test_badge_gradient_embedding_and_preference_for_uncertain():
    p = np.array([[0.98, 0.02], [0.55, 0.45], [0.6, 0.4]])
    e = np.ones((3, 4))
    g = gradient_embeddings(Pool(probabilities=p, embeddings=e))
    assert g.shape == (3, 8)
    assert np.allclose(g[0, :4], -0.02) and np.allclose(g[0, 4:], 0.02)
    first = get_strategy("badge")(Pool(probabilities=p, embeddings=e), 1, np.random.default_rng(0)).order[0]
    assert first == 1
