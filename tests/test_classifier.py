import logging

import pytest
import torch

from backend.checkpoints import Manifest, ModelStore
from backend.classifier import (
    ARCHITECTURES,
    CheckpointError,
    build_model,
    cached_imagenet_file,
    load_classifier,
    read_checkpoint,
)
from backend.settings import Settings

CLASSES = ("a", "b", "c")


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_each_architecture_builds_with_config_class_count(arch):
    model = build_model(arch, num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3)


def test_random_init_is_deterministic_and_warns(tmp_path, caplog):
    settings = Settings(model_dir=str(tmp_path), pretrained_weights="none")
    with caplog.at_level(logging.WARNING):
        first = load_classifier(settings, CLASSES)
    second = load_classifier(settings, CLASSES)
    assert first.source == "random" and first.version == "base-resnet18-random"
    assert "RANDOMLY INITIALISED" in caplog.text
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)


def test_cached_imagenet_weights_load_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    imagenet = build_model("resnet18", 1000, seed=7)
    cached = cached_imagenet_file("resnet18")
    cached.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), cached)
    loaded = load_classifier(Settings(model_dir=str(tmp_path), pretrained_weights="cache"), CLASSES)
    assert loaded.source == "imagenet"
    assert torch.equal(loaded.model.conv1.weight, imagenet.conv1.weight)
    assert loaded.model.fc.out_features == 3


def test_cache_mode_without_file_falls_back_to_random(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    loaded = load_classifier(Settings(model_dir=str(tmp_path), pretrained_weights="cache"), CLASSES)
    assert loaded.source == "random"


def test_model_path_then_model_dir_take_precedence(tmp_path):
    user = build_model("resnet18", 3, seed=1)
    path = tmp_path / "user.pt"
    torch.save(user.state_dict(), path)  # a bare state dict is accepted too
    settings = Settings(model_dir=str(tmp_path / "models"), model_path=str(path), pretrained_weights="none")
    loaded = load_classifier(settings, CLASSES, project=5)
    assert loaded.source == "model_path" and loaded.version.startswith("base-resnet18-")
    assert torch.equal(loaded.model.fc.weight, user.fc.weight)

    trained = build_model("resnet18", 3, seed=2)
    manifest = Manifest(version="v0001", arch="resnet18", classes=list(CLASSES), image_size=64)
    ModelStore(settings.model_dir).save(5, trained.state_dict(), manifest)
    loaded = load_classifier(settings, CLASSES, project="5.1700000000")
    assert (loaded.source, loaded.version, loaded.image_size) == ("model_dir", "v0001", 64)
    assert torch.equal(loaded.model.fc.weight, trained.fc.weight)
    # a version trained for other classes is not used
    assert load_classifier(settings, ("x", "y"), project=5).source == "model_path"


def test_model_path_with_other_class_count_keeps_backbone(tmp_path):
    user = build_model("resnet18", 5, seed=3)
    path = tmp_path / "user.pt"
    torch.save({"arch": "resnet18", "state_dict": user.state_dict()}, path)
    loaded = load_classifier(Settings(model_dir=str(tmp_path), model_path=str(path)), CLASSES)
    assert torch.equal(loaded.model.conv1.weight, user.conv1.weight)
    assert loaded.model.fc.out_features == 3


def test_corrupt_and_unsafe_checkpoints_are_refused(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint(corrupt)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"state_dict": {}, "obj": object()}, unsafe)
    with pytest.raises(CheckpointError):
        read_checkpoint(unsafe)
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")


def test_store_ignores_half_written_versions(tmp_path):
    store = ModelStore(tmp_path)
    (tmp_path / "1" / ".partial-abc").mkdir(parents=True)
    (tmp_path / "1" / "v9").mkdir()
    (tmp_path / "1" / "v9" / "model.pt").write_bytes(b"partial")  # no manifest: incomplete
    assert store.latest(1) is None
    manifest = Manifest(version="v1", arch="resnet18", classes=list(CLASSES), image_size=64)
    store.save(1, build_model("resnet18", 3).state_dict(), manifest)
    assert [m.version for m in store.versions(1)] == ["v1"]
    with pytest.raises(FileExistsError):
        store.save(1, {}, manifest)
