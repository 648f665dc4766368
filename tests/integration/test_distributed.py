"""Training under torchrun: two CPU processes on gloo give the model one process gives."""
import shutil
import sys

import pytest
import torch

from backend.evaluation.annotators import click_event
from backend.models.checkpoints import read_checkpoint
from backend.service.scheduler import TrainingScheduler
from backend.service.training_run import run_training
from backend.settings import Settings
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir

PROJECT = 8


@pytest.fixture
def annotated(biased_project, tmp_path):
    """Settings and a journal of 8 click annotations for the biased small CNN."""
    data, settings, xml = biased_project
    settings = settings.updated(
        model_dir=str(tmp_path / "single"), train_loss="click", train_steps=6, train_unlabeled_batch=8,
        train_batchnorm="frozen",  # on CPUs each process would normalise its half batch alone (SyncBatchNorm needs GPUs)
    )
    journal = AnnotationJournal(ProjectDir(settings.model_dir, PROJECT))
    for index in range(8):
        event = click_event(data, xml, index, project=PROJECT)
        journal.upsert(event["task"], event["annotation"], xml, train_every=0)
    return settings


def _trained(settings: Settings) -> dict[str, torch.Tensor]:
    return read_checkpoint(ProjectDir(settings.model_dir, PROJECT).models.path("v0001"))["state_dict"]


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point()), default=0.0)


def test_torchrun_with_two_gloo_processes_matches_one_process(annotated, tmp_path):
    launcher = f"{sys.executable} -m torch.distributed.run --standalone --nproc-per-node 2"  # what `torchrun` runs
    launched = annotated.updated(model_dir=str(tmp_path / "ddp"), train_launcher=launcher)
    shutil.copytree(annotated.model_dir, launched.model_dir)  # the same journal
    run_training(ProjectDir(annotated.model_dir, PROJECT), annotated)
    single = _trained(annotated)

    scheduler = TrainingScheduler(launched)
    assert scheduler.request(PROJECT) == "started"
    status = scheduler.wait(PROJECT, timeout=300)
    assert status["state"] == "idle" and status["last_version"] == "v0001", (tmp_path / "ddp" / "8" / "training.log").read_text()[-3000:]
    manifest = ProjectDir(launched.model_dir, PROJECT).models.latest()
    assert manifest.metrics["processes"] == 2
    ddp = _trained(launched)

    base = read_checkpoint(annotated.model_path)["state_dict"]
    moved, apart = _distance(single, base), _distance(ddp, single)
    assert moved > 1e-3, "training must have changed the weights for the comparison to mean anything"
    assert apart < 1e-5 + 1e-3 * moved, (apart, moved)


def test_batch_scoring_splits_across_torchrun_processes(settings, label_config_xml, tmp_path):
    import json
    import os
    import subprocess

    import numpy as np

    from backend.service.predictor import PredictorCache
    from backend.service.scoring import score_tasks
    from backend.storage.score_cache import ScoreCache

    tasks = [{"id": i, "data": {"image": f"/data/local-files/?d=images/test/{i:05d}.png"}} for i in range(11)]
    tasks.append({"id": 99, "data": {"image": "/data/local-files/?d=missing.png"}})
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    (tmp_path / "config.xml").write_text(label_config_xml)
    split = settings.updated(model_dir=str(tmp_path / "split"))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "tests/support/torchrun_scoring.py",
               str(tmp_path / "config.xml"), str(tmp_path / "tasks.json"), str(tmp_path / "split.npz")]
    done = subprocess.run(command, env=dict(os.environ, **split.to_env(), PYTHONPATH="."), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    together = np.load(tmp_path / "split.npz")

    model = PredictorCache(settings.serving).get(1, label_config_xml)
    alone = score_tasks(model, tasks, with_predictions=True, progress=False)
    assert together["task_ids"].tolist() == alone.task_ids == list(range(11))
    np.testing.assert_allclose(together["probabilities"], alone.probabilities, atol=1e-5)
    np.testing.assert_allclose(together["attention"], alone.attention, atol=1e-3)
    assert all(together["predicted"] > 0)
    cached = ScoreCache(ProjectDir(split.model_dir, 1), model.model_version).load()
    assert sorted(cached, key=int) == [str(i) for i in range(11)]
