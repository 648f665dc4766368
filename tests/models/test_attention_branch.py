"""Attention branch networks: the map gates the decision, and editing the map trains the model."""
import copy

import pytest
import torch

from backend.core.cam import AttentionBranchMap
from backend.core.losses import GuidanceTargets, edited_attention, reconstruction_guidance
from backend.models.architectures import architecture, build_model
from backend.models.inference import cam_outputs, model_cam
from backend.training.trainer import TrainConfig, branch_cross_entropy, fine_tune
from backend.training.training_set import TrainingSet

ARCHS = ["abn_small_cnn", "msabn_small_cnn", "abn_resnet18", "msabn_resnet18"]


@pytest.mark.parametrize("arch", ARCHS)
def test_the_attention_map_gates_the_perception_branch(arch):
    model = build_model(arch, 3, seed=0).eval()
    inputs = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        gated = model(inputs)
        assert model.attention_logits.shape == (2, 3)
        attention = architecture(arch).attention_layer
        handle = model.get_submodule(attention).register_forward_hook(lambda m, i, out: torch.zeros_like(out))
        ungated = model(inputs)
        handle.remove()
    assert not torch.allclose(gated, ungated)  # zeroing A(x) changes the logits


def test_the_served_map_is_a_x_without_a_backward_pass():
    model = build_model("msabn_small_cnn", 2, seed=1).eval()
    cam = model_cam(model, "msabn_small_cnn")
    assert isinstance(cam, AttentionBranchMap) and not cam.needs_gradients
    out = cam_outputs(cam, torch.randn(2, 3, 64, 64))
    assert out.maps.shape == (2, 64, 64) and 0.0 <= out.maps.min() and out.maps.max() <= 1.0
    assert out.embeddings.shape == (2, 128)  # the perception branch's pooled features, what the head reads
    with pytest.raises(ValueError, match="attention branch"):
        model_cam(build_model("small_cnn", 2), "small_cnn", "attention")


def _targets(n: int, size: int) -> GuidanceTargets:
    box = torch.zeros(n, size, size)
    box[:, size // 4 : size // 2, size // 4 : size // 2] = 1.0
    return GuidanceTargets(positive=torch.zeros(n, 2), has_positive=torch.zeros(n, dtype=torch.bool), negative=torch.zeros(n, size, size),
                           box=box, has_box=torch.ones(n, dtype=torch.bool), saliency=box.clone())


def test_the_reconstruction_loss_reaches_the_branch_and_the_backbone():
    model = build_model("abn_small_cnn", 2, seed=2).train()
    cam = model_cam(model, "abn_small_cnn")
    out = cam(torch.randn(2, 3, 64, 64), differentiable=True, output_size=(16, 16))
    loss = reconstruction_guidance(out.maps, _targets(2, 16)).mean() + branch_cross_entropy(model, torch.tensor([0, 1]))
    loss.backward()
    assert model.branch.to_map[0].weight.grad.abs().sum() > 0
    assert model.blocks[0][0].weight.grad.abs().sum() > 0
    edited = edited_attention(out.maps, _targets(2, 16))
    assert edited[:, 4:8, 4:8].eq(1).all() and edited[:, 12:, 12:].eq(0).all()


def test_fine_tuning_with_edits_moves_a_x_towards_the_edited_map_on_held_out_images():
    torch.manual_seed(0)
    size = 32

    def images(n: int) -> torch.Tensor:
        x = torch.randn(n, 3, size, size) * 0.3
        x[:, :, 8:16, 8:16] += 2.0  # a bright object at the same place, the target of the edits
        return x

    model = build_model("abn_small_cnn", 2, seed=3)
    train = images(32)
    targets = _targets(32, size)
    data = TrainingSet(train, torch.randint(0, 2, (32,)), targets, [None] * 32, torch.zeros(32, size, size, dtype=torch.bool),
                       torch.zeros(32, size, size, dtype=torch.bool))
    held_out = images(16)
    target = _targets(16, size).saliency

    def error(m) -> float:
        maps = torch.from_numpy(cam_outputs(model_cam(m.eval(), "abn_small_cnn"), held_out).maps)
        return float((maps - target).pow(2).mean())

    before = error(model)
    tuned = copy.deepcopy(model)
    fine_tune(tuned, "abn_small_cnn", data, TrainConfig(loss="reconstruct", steps=40, batch_size=16, unlabeled_batch=0, lr=1e-3))
    assert error(tuned) < before * 0.7
