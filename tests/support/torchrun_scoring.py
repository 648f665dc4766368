"""Run under torchrun by test_distributed: score tasks with split processes; the first writes the result."""
import json
import sys

import numpy as np

from backend.service.predictor import PredictorCache
from backend.service.scoring import score_tasks
from backend.settings import Settings
from backend.training import distributed


def main(config_path: str, tasks_path: str, out: str) -> None:
    settings = Settings.from_env()
    world = distributed.init(settings.device)
    model = PredictorCache(settings.serving).get(1, open(config_path).read())
    tasks = json.loads(open(tasks_path).read())
    scored = score_tasks(model, tasks, with_predictions=True, progress=False)
    if world.is_main:
        np.savez(out, task_ids=np.array(scored.task_ids), probabilities=scored.probabilities, attention=scored.attention,
                 predicted=np.array([len(scored.predictions[t]["result"]) for t in scored.task_ids]))
    distributed.close(world)


if __name__ == "__main__":
    main(*sys.argv[1:])
