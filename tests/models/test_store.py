import pytest

from backend.models.architectures import build_model
from backend.models.checkpoints import Manifest
from backend.models.store import ModelStore

CLASSES = ["a", "b", "c"]


def _manifest(version: str, created: float = 0.0) -> Manifest:
    return Manifest(version=version, arch="small_cnn", classes=CLASSES, image_size=64, created=created)


def test_store_ignores_half_written_versions(tmp_path):
    store = ModelStore(tmp_path)
    (tmp_path / ".partial-abc").mkdir(parents=True)
    (tmp_path / "v9").mkdir()
    (tmp_path / "v9" / "model.pt").write_bytes(b"partial")  # no manifest: incomplete
    assert store.latest() is None
    store.save(build_model("small_cnn", 3).state_dict(), _manifest("v0001"))
    assert [m.version for m in store.versions()] == ["v0001"]
    with pytest.raises(FileExistsError):
        store.save({}, _manifest("v0001"))
    store.clean_partial()
    assert not (tmp_path / ".partial-abc").exists()


def test_next_version_and_prune_keep_the_newest(tmp_path):
    store = ModelStore(tmp_path)
    assert store.next_version() == "v0001"
    state = build_model("small_cnn", 3).state_dict()
    for n in range(1, 5):
        store.save(state, _manifest(f"v{n:04d}", created=float(n)))
    assert store.next_version() == "v0005"
    store.prune(2)
    assert [m.version for m in store.versions()] == ["v0003", "v0004"]
    store.prune(0)  # never the newest one
    assert [m.version for m in store.versions()] == ["v0004"]


def test_a_version_changed_after_it_was_written_is_skipped(tmp_path):
    import os

    import torch

    from backend.models.classifier import load_newest

    store = ModelStore(tmp_path)
    first, second = build_model("small_cnn", 3, seed=1), build_model("small_cnn", 3, seed=2)
    store.save(first.state_dict(), _manifest("v0001", 1.0))
    store.save(second.state_dict(), _manifest("v0002", 2.0))
    assert len(store.latest().checksum) == 64
    path = store.path("v0002")
    with open(path, "r+b") as handle:  # 4 kB of random bytes in the middle: often still a loadable zip
        handle.seek(os.path.getsize(path) // 2)
        handle.write(os.urandom(4096))
    loaded = load_newest(store, tuple(CLASSES))
    assert loaded.version == "v0001" and torch.equal(loaded.model.fc.weight, first.fc.weight)
