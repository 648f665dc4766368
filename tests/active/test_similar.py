import numpy as np

from backend.active import Pool, get_strategy, similar_tasks


def test_similar_tasks_and_the_similar_strategy():
    embeddings = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.95, 0.05], [-1, 0]], dtype=float)
    pool = Pool(probabilities=np.array([[0.9, 0.1]] * 5), embeddings=embeddings,
                annotated=np.array([True, False, False, False, False]), labels=np.array([1, -1, -1, -1, -1]))
    assert [i for i, _ in similar_tasks(pool, [0], 2)] == [3, 1]
    assert get_strategy("similar")(pool, 2, np.random.default_rng(0)).order.tolist()[:2] == [3, 1]
