"""Training under torchrun: two CPU processes on gloo give the model one process gives."""
import shutil
import sys
from dataclasses import replace

import pytest
import torch

from backend import distributed
from backend.annotators import click_event
from backend.checkpoints import ModelStore
from backend.classifier import read_checkpoint
from backend.journal import AnnotationJournal
from backend.scheduler import TrainingScheduler
from backend.settings import Settings
from backend.training_run import run_training

PROJECT = 8


@pytest.fixture
def annotated(biased_project, tmp_path):
    """Settings and a journal of 8 click annotations for the biased small CNN."""
    data, settings, xml = biased_project
    settings = replace(
        settings, model_dir=str(tmp_path / "single"), train_loss="click", train_steps=6, train_unlabeled_batch=8,
        train_batchnorm="frozen",  # on CPUs each process would normalise its half batch alone (SyncBatchNorm needs GPUs)
    )
    journal = AnnotationJournal(settings.model_dir, PROJECT)
    journal.set_label_config(xml)
    for index in range(8):
        event = click_event(data, xml, index, project=PROJECT)
        journal.upsert(event["task"], event["annotation"])
    return settings


def _trained(settings: Settings) -> dict[str, torch.Tensor]:
    return read_checkpoint(ModelStore(settings.model_dir).path(PROJECT, "v0001"))["state_dict"]


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point()), default=0.0)


def test_world_helpers_are_the_identity_alone():
    world = distributed.current()
    assert (world.rank, world.size, world.is_main, world.distributed) == (0, 1, True, False)
    assert distributed.shard([1, 2, 3], world) == [1, 2, 3] and distributed.gather("x", world) == ["x"]
    assert list(distributed.shard(list(range(7)), distributed.World(1, 3))) == [1, 4]


def test_torchrun_with_two_gloo_processes_matches_one_process(annotated, tmp_path):
    launcher = f"{sys.executable} -m torch.distributed.run --standalone --nproc-per-node 2"  # what `torchrun` runs
    launched = replace(annotated, model_dir=str(tmp_path / "ddp"), train_launcher=launcher)
    shutil.copytree(annotated.model_dir, launched.model_dir)  # the same journal
    run_training(PROJECT, annotated)
    single = _trained(annotated)

    scheduler = TrainingScheduler(launched)
    assert scheduler.request(PROJECT) == "started"
    status = scheduler.wait(PROJECT, timeout=300)
    assert status["state"] == "idle" and status["last_version"] == "v0001", (tmp_path / "ddp" / "8" / "training.log").read_text()[-3000:]
    manifest = ModelStore(launched.model_dir).latest(PROJECT)
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

    from backend.model import ModelManager
    from backend.scheduler import settings_env
    from backend.scoring import ScoreCache, score_tasks

    tasks = [{"id": i, "data": {"image": f"/data/local-files/?d=images/test/{i:05d}.png"}} for i in range(11)]
    tasks.append({"id": 99, "data": {"image": "/data/local-files/?d=missing.png"}})
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    (tmp_path / "config.xml").write_text(label_config_xml)
    split = replace(settings, model_dir=str(tmp_path / "split"))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "tests/torchrun_scoring.py",
               str(tmp_path / "config.xml"), str(tmp_path / "tasks.json"), str(tmp_path / "split.npz")]
    done = subprocess.run(command, env=dict(os.environ, **settings_env(split), PYTHONPATH="."), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    together = np.load(tmp_path / "split.npz")

    model = ModelManager(settings).get(1, label_config_xml)
    alone = score_tasks(model, tasks, with_predictions=True, progress=False)
    assert together["task_ids"].tolist() == alone.task_ids == list(range(11))
    np.testing.assert_allclose(together["probabilities"], alone.probabilities, atol=1e-5)
    np.testing.assert_allclose(together["attention"], alone.attention, atol=1e-3)
    assert all(together["predicted"] > 0)
    cached = ScoreCache(split.model_dir, 1, model.model_version).load()
    assert sorted(cached, key=int) == [str(i) for i in range(11)]
