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
