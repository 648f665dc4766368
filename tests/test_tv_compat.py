import torch

import backend
from backend import tv_compat


def test_import_backend_then_torchvision_resnet_forward():
    import torchvision
    from torchvision.models import resnet18

    assert backend.__version__
    out = resnet18(num_classes=3)(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 3)
    assert torchvision.transforms.functional.hflip(torch.ones(1, 2, 2)).shape == (1, 2, 2)


def test_compat_is_idempotent_and_ops_defined():
    first = tv_compat.ensure_torchvision_importable()
    assert tv_compat.ensure_torchvision_importable() == first
    assert tv_compat._op_exists("nms") and tv_compat._op_exists("qnms")
