"""Batch scoring and queue building with the served model, without a Label Studio (the push is in tests/e2e)."""
import numpy as np

from backend.active.annotation_queue import build_queue
from backend.service.predictor import PredictorCache
from backend.service.scoring import score_tasks
from backend.storage.score_cache import ScoreCache


def _tasks(data, count=12):
    return [{"id": 100 + i, "data": {"image": f"/data/local-files/?d={s.image.relative_to(data.root)}"}}
            for i, s in enumerate(data.splits["test"][:count])]


def test_scores_are_cached_per_version_and_rank_a_queue(biased_project):
    data, settings, xml = biased_project
    predictor = PredictorCache(settings.serving).get(2, xml)
    tasks = _tasks(data) + [{"id": 999, "data": {"image": "/data/local-files/?d=missing.png"}}]
    scored = score_tasks(predictor, tasks, with_predictions=True, progress=False)
    assert scored.task_ids == [t["id"] for t in tasks[:-1]]  # the unreadable task is left out
    assert scored.attention.shape == (12, 16, 16) and np.allclose(scored.probabilities.sum(1), 1, atol=1e-5)
    assert set(scored.predictions) == set(scored.task_ids)
    cached = ScoreCache(predictor.project, predictor.model_version).load()
    assert sorted(cached) == sorted(str(t) for t in scored.task_ids)

    again = score_tasks(predictor, tasks[:-1], progress=False)  # served from the cache
    assert np.allclose(again.probabilities, scored.probabilities) and again.predictions == {}

    pool = scored.pool(annotated={100, 101}, labels={100: 0})
    assert pool.annotated.sum() == 2 and pool.labels[0] == 0 and pool.labels[1] == -1
    queue = build_queue(pool, scored.task_ids, "gmm", predictor.model_version, batch_size=4)
    assert len(queue.order) == 10 and not {100, 101} & set(queue.order) and queue.scores["100"] == 0.0


def test_the_pushed_predictions_are_predict_s_region_for_region(biased_project):
    """One analysis path: with SAL's interpretability model writing object suggestions, the queue's predictions
    once lacked the Object region /predict returned for the same task and version."""
    data, settings, xml = biased_project
    predictor = PredictorCache(settings.serving).get(2, xml)
    predictor.interpretability = predictor.classifier  # SAL past its change point: suggestions on every task
    tasks = _tasks(data, 4)
    pushed = score_tasks(predictor, tasks, with_predictions=True, progress=False).predictions
    answered = predictor.predict(tasks)
    def regions(prediction):  # region ids are made afresh for every answer
        return [{k: v for k, v in region.items() if k != "id"} for region in prediction["result"]]

    for task, prediction in zip(tasks, answered):
        assert regions(pushed[task["id"]]) == regions(prediction) and prediction["result"]
        assert pushed[task["id"]]["model_version"] == prediction["model_version"]
    assert any(r["from_name"] == predictor.label_config.brush_name for r in answered[0]["result"])
