"""The runner's body in this process: a failure while saving leaves nothing behind and the next run recovers."""
import torch

from backend.http.server import create_app
from backend.service import runner
from backend.service.scheduler import TrainingScheduler
from tests.service.projects import folder_of, predict_version, record_click


def test_a_full_disk_while_saving_leaves_no_version_and_the_next_run_recovers(env, monkeypatch):
    import errno

    from backend.models import store as model_store

    data, settings, xml = env
    record_click(data, settings, xml)
    real_save = torch.save

    def disk_fills_up(obj, path, *args, **kwargs):
        real_save(obj, path, *args, **kwargs)
        with open(path, "r+b") as handle:  # what reached the disk before it filled up
            handle.truncate(1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model_store.torch, "save", disk_fills_up)
    folder = folder_of(settings)
    folder.pending.touch()
    runner._run_once(folder, settings)  # the runner's body, in this process
    status = TrainingScheduler(settings).status(8)
    assert status["state"] == "failed" and "No space left on device" in status["last_error"]
    assert folder.models.versions() == [] and not list(folder.path.glob(".partial-*"))
    client = create_app(settings).test_client()
    assert predict_version(client, xml).startswith("base-small_cnn-")

    monkeypatch.setattr(model_store.torch, "save", real_save)
    folder.pending.touch()
    runner._run_once(folder, settings)
    assert TrainingScheduler(settings).status(8)["last_version"] == "v0001"
    assert predict_version(client, xml) == "v0001"
