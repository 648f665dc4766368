import pytest
import torch

from backend.models.architectures import build_model
from backend.models.checkpoints import CheckpointError, file_digest, load_weights, read_checkpoint, save_checkpoint


def test_saved_checkpoint_reads_back_with_its_description(tmp_path):
    model = build_model("small_cnn", 2, seed=4)
    save_checkpoint(model, tmp_path / "m.pt", "small_cnn", ["a", "b"], 64, "v-test")
    payload = read_checkpoint(tmp_path / "m.pt")
    assert (payload["arch"], payload["classes"], payload["image_size"], payload["version"]) == ("small_cnn", ["a", "b"], 64, "v-test")
    fresh = build_model("small_cnn", 2, seed=0)
    assert load_weights(fresh, "small_cnn", payload["state_dict"], 2)
    assert torch.equal(fresh.fc.weight, model.fc.weight)


def test_a_head_for_another_class_count_is_replaced_and_the_backbone_kept():
    source = build_model("small_cnn", 5, seed=3)
    target = build_model("small_cnn", 3, seed=0)
    assert not load_weights(target, "small_cnn", source.state_dict(), 3)
    assert torch.equal(target.features[0].weight, source.features[0].weight) and target.fc.out_features == 3
    with pytest.raises(CheckpointError, match="does not fit"):
        load_weights(build_model("resnet18", 3), "resnet18", source.state_dict(), 3)


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


def test_file_digest_changes_with_the_bytes(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"one")
    first = file_digest(path)
    path.write_bytes(b"two")
    assert len(first) == 8 and file_digest(path) != first


def test_non_finite_weights_are_refused(tmp_path):
    model = build_model("small_cnn", 2)
    with torch.no_grad():
        model.fc.weight[0, 0] = float("nan")
    save_checkpoint(model, tmp_path / "nan.pt", "small_cnn", ["a", "b"], 64, "v")
    with pytest.raises(CheckpointError, match="non-finite"):
        read_checkpoint(tmp_path / "nan.pt")
