import logging

import pytest
import torch

from backend.models.architectures import build_model
from backend.models.checkpoints import Manifest
from backend.models.classifier import cached_imagenet_file, load_classifier, load_newest
from backend.models.store import ModelStore

CLASSES = ("a", "b", "c")


def test_random_init_is_deterministic_and_warns(tmp_path, caplog):
    store = ModelStore(tmp_path)
    with caplog.at_level(logging.WARNING):
        first = load_classifier(store, CLASSES, pretrained="none")
    second = load_classifier(store, CLASSES, pretrained="none")
    assert first.source == "random" and first.version == "base-resnet18-random"
    assert "RANDOMLY INITIALISED" in caplog.text
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)


def _cached_imagenet(tmp_path, monkeypatch, arch: str) -> torch.nn.Module:
    """A torchvision ResNet-18 with random weights, put where torch hub keeps ``arch``'s ImageNet weights."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    imagenet = build_model("resnet18", 1000, seed=7)
    cached = cached_imagenet_file(arch)
    cached.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), cached)
    return imagenet


def test_cached_imagenet_weights_load_without_network(tmp_path, monkeypatch):
    imagenet = _cached_imagenet(tmp_path, monkeypatch, "resnet18")
    loaded = load_classifier(ModelStore(tmp_path), CLASSES, pretrained="cache")
    assert loaded.source == "imagenet" and loaded.version == "base-resnet18-imagenet-untrained-head"  # says so in Label Studio
    assert torch.equal(loaded.model.conv1.weight, imagenet.conv1.weight)
    assert loaded.model.fc.out_features == 3


def test_cache_mode_without_file_falls_back_to_random(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    assert load_classifier(ModelStore(tmp_path), CLASSES, pretrained="cache").source == "random"


def test_model_path_then_saved_versions_take_precedence(tmp_path):
    user = build_model("resnet18", 3, seed=1)
    path = tmp_path / "user.pt"
    torch.save(user.state_dict(), path)  # a bare state dict is accepted too
    store = ModelStore(tmp_path / "models" / "5")
    loaded = load_classifier(store, CLASSES, model_path=str(path), pretrained="none")
    assert loaded.source == "model_path" and loaded.version.startswith("base-resnet18-")
    assert torch.equal(loaded.model.fc.weight, user.fc.weight)

    trained = build_model("resnet18", 3, seed=2)
    store.save(trained.state_dict(), Manifest(version="v0001", arch="resnet18", classes=list(CLASSES), image_size=64))
    loaded = load_classifier(store, CLASSES, model_path=str(path), pretrained="none")
    assert (loaded.source, loaded.version, loaded.image_size) == ("model_dir", "v0001", 64)
    assert torch.equal(loaded.model.fc.weight, trained.fc.weight)
    # a version trained for other classes is not used
    assert load_classifier(store, ("x", "y"), model_path=str(path), pretrained="none").source == "model_path"


def test_model_path_with_other_class_count_keeps_backbone(tmp_path):
    user = build_model("resnet18", 5, seed=3)
    path = tmp_path / "user.pt"
    torch.save({"arch": "resnet18", "state_dict": user.state_dict()}, path)
    loaded = load_classifier(ModelStore(tmp_path), CLASSES, model_path=str(path))
    assert torch.equal(loaded.model.conv1.weight, user.conv1.weight)
    assert loaded.model.fc.out_features == 3 and loaded.version.endswith("-untrained-head")


def test_load_newest_skips_an_unreadable_version(tmp_path):
    store = ModelStore(tmp_path)
    good = build_model("small_cnn", 3, seed=5)
    store.save(good.state_dict(), Manifest(version="v0001", arch="small_cnn", classes=list(CLASSES), image_size=64, created=1.0))
    store.save(good.state_dict(), Manifest(version="v0002", arch="small_cnn", classes=list(CLASSES), image_size=64, created=2.0))
    store.path("v0002").write_bytes(b"\0" * 100)
    loaded = load_newest(store, CLASSES)
    assert loaded.version == "v0001" and torch.equal(loaded.model.fc.weight, good.fc.weight)


def test_imagenet_weights_initialise_the_backbone_of_an_attention_branch_network(tmp_path, monkeypatch):
    imagenet = _cached_imagenet(tmp_path, monkeypatch, "abn_resnet18")
    loaded = load_classifier(ModelStore(tmp_path), CLASSES, arch="msabn_resnet18", pretrained="cache")
    assert loaded.source == "imagenet" and loaded.model.fc.out_features == 3
    assert torch.equal(loaded.model.blocks[0].conv1.weight, imagenet.conv1.weight)
    assert torch.equal(loaded.model.perception[0].conv1.weight, imagenet.layer4[0].conv1.weight)


@pytest.mark.parametrize("arch", ["small_cnn", "abn_small_cnn"])
def test_model_path_classes_are_matched_by_name(tmp_path, arch):
    """A checkpoint saved for (cat, dog) serves a config listing (dog, cat): the same answers, under the right names."""
    import torch

    from backend.models.architectures import build_model
    from backend.models.checkpoints import ClassesError, save_checkpoint
    from backend.models.classifier import load_classifier
    from backend.models.store import ModelStore

    torch.manual_seed(0)
    model = build_model(arch, 2).eval()
    path = tmp_path / "model.pt"
    save_checkpoint(model, str(path), arch, ["cat", "dog"], 32, "test")
    swapped = load_classifier(ModelStore(tmp_path / "models"), ("dog", "cat"), str(path), arch, 32, "none")
    images = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        original, reordered = model(images), swapped.model(images)
        branch_original = model.attention_logits if arch.startswith("abn") else None
        branch_reordered = swapped.model.attention_logits if arch.startswith("abn") else None
    assert torch.allclose(original[:, [1, 0]], reordered, atol=1e-5)
    if branch_original is not None:
        assert torch.allclose(branch_original[:, [1, 0]], branch_reordered, atol=1e-5)
    with pytest.raises(ClassesError, match=r"unknown to the model: \['horse'\]"):
        load_classifier(ModelStore(tmp_path / "models"), ("dog", "horse"), str(path), arch, 32, "none")
