import numpy as np

from backend.active import Pool
from backend.active.annotation_queue import Queue, build_queue, queue_from_order


def test_queue_scores_are_priorities_along_the_order_and_annotated_tasks_score_zero():
    queue = queue_from_order("v1", "random", [30, 10, 20], {"30": 1.0, "10": 0.5, "20": 0.1}, annotated=[40])
    assert queue.scores == {"30": 1.0, "10": 0.5, "20": 0.0, "40": 0.0}  # the head reads "100%" in Label Studio
    assert [queue.rank_of(t) for t in (30, 10, 20, 40)] == [1, 2, 3, None]
    assert Queue(**queue.to_dict()) == queue


def test_build_queue_puts_the_class_balanced_batch_first():
    p = np.array([[0.6, 0.4]] * 4 + [[0.45, 0.55]] * 2 + [[0.99, 0.01]] * 2)  # the uncertain ones are all class 0 first
    pool = Pool(probabilities=p, annotated=np.array([False] * 7 + [True]))
    ids = [100 + i for i in range(8)]
    queue = build_queue(pool, ids, "least_confidence", "v3", batch_size=4)
    assert queue.version == "v3" and len(queue.order) == 7 and 107 not in queue.order
    first = queue.order[:4]
    assert sum(1 for t in first if t in (104, 105)) == 2  # both class-1 tasks made the first batch
    assert queue.scores["107"] == 0.0
