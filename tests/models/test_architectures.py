import pytest
import torch

from backend.models.architectures import ARCHITECTURES, architecture, build_model


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_each_architecture_builds_with_config_class_count(arch):
    model = build_model(arch, num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3)
    spec = architecture(arch)
    assert isinstance(model.get_submodule(spec.head), torch.nn.Linear)
    model.get_submodule(spec.last_block)


def test_build_is_deterministic_for_a_seed_and_unknown_names_are_refused():
    a, b, c = build_model("small_cnn", 2, seed=1), build_model("small_cnn", 2, seed=1), build_model("small_cnn", 2, seed=2)
    assert torch.equal(a.fc.weight, b.fc.weight) and not torch.equal(a.fc.weight, c.fc.weight)
    with pytest.raises(ValueError, match="unknown MODEL_ARCH"):
        build_model("vgg_deluxe", 2)
