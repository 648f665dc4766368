import torch
from torch import nn

from backend.models.architectures import build_model
from backend.models.folding import fold_batch_norms


def _with_statistics(model: nn.Module) -> nn.Module:
    """Batch norms that do something (fresh ones are the identity in eval mode)."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval()


def test_folded_models_compute_the_same_function_with_the_norms_gone():
    for arch, norms in (("small_cnn", 7), ("resnet18", 20)):
        model = _with_statistics(build_model(arch, 3))
        folded = fold_batch_norms(model)
        inputs = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            assert torch.allclose(model(inputs), folded(inputs), atol=1e-4)
        assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == sum(
            isinstance(m, nn.BatchNorm2d) for m in model.modules()) - norms
        assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0  # the original is left as it was
        assert {name for name, _ in folded.named_modules()} == {name for name, _ in model.named_modules()}


def test_a_kept_convolution_still_gives_its_own_output():
    model = _with_statistics(build_model("small_cnn", 2))
    folded = fold_batch_norms(model, keep=("features.0",))
    inputs = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.features[0](inputs), folded.features[0](inputs))
        assert torch.allclose(model(inputs), folded(inputs), atol=1e-4)
    assert isinstance(folded.features[1], nn.BatchNorm2d) and isinstance(folded.features[4], nn.Identity)


def test_a_model_that_cannot_be_traced_comes_back_unfolded():
    model = _with_statistics(build_model("abn_small_cnn", 2))
    folded = fold_batch_norms(model)
    assert not folded.training and folded is not model
    assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
