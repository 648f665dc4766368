"""A random pool of model outputs for strategy tests."""
import numpy as np

from backend.active import Pool


def make_pool(n=60, classes=3, seed=0, annotated=5):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, classes))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    attention = rng.random((n, 16, 16))
    flags = np.zeros(n, dtype=bool)
    flags[:annotated] = True
    labels = rng.integers(0, classes, n)
    return Pool(probabilities=p, attention=attention, embeddings=rng.normal(size=(n, 8)), annotated=flags, labels=labels)
