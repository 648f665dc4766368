import math

import pytest
import torch

from backend.core.cam import CAM
from backend.core.losses import (
    GuidanceTargets,
    barycentre,
    box_guidance,
    click_guidance,
    copy_replace,
    cyborg_guidance,
    negative_term,
    positive_term,
    ssim,
)
from backend.models.architectures import build_model


def _targets(b=1, h=10, w=10, **given):
    base = dict(
        positive=torch.zeros(b, 2), has_positive=torch.zeros(b, dtype=torch.bool), negative=torch.zeros(b, h, w),
        box=torch.zeros(b, h, w), has_box=torch.zeros(b, dtype=torch.bool), saliency=torch.zeros(b, h, w),
    )
    base.update(given)
    return GuidanceTargets(**base)


def test_barycentre_of_a_single_hot_pixel():
    maps = torch.zeros(1, 10, 20)
    maps[0, 2, 15] = 1.0
    assert torch.allclose(barycentre(maps), torch.tensor([[15.5 / 20, 2.5 / 10]]))


def test_positive_term_is_distance_in_image_fractions():
    maps = torch.zeros(1, 10, 10)
    maps[0, 0, 0] = 1.0  # barycentre (0.05, 0.05)
    t = _targets(positive=torch.tensor([[0.35, 0.45]]), has_positive=torch.tensor([True]))
    assert positive_term(maps, t).item() == pytest.approx(0.5)
    assert positive_term(maps, _targets()).item() == 0.0  # no click, no term


def test_negative_term_is_the_share_of_mass_in_ignored_regions():
    maps = torch.ones(1, 10, 10)
    negative = torch.zeros(1, 10, 10)
    negative[0, :, :3] = 1.0
    t = _targets(negative=negative)
    assert negative_term(maps, t).item() == pytest.approx(0.3)
    assert negative_term(maps * 7, t).item() == pytest.approx(0.3)  # scale-free
    assert click_guidance(maps, t).item() == pytest.approx(0.3)


def test_box_guidance_is_the_share_outside_the_box():
    maps = torch.zeros(2, 10, 10)
    maps[:, 0, 0] = 3.0
    maps[:, 5, 5] = 1.0
    box = torch.zeros(2, 10, 10)
    box[:, 4:7, 4:7] = 1.0
    t = _targets(b=2, box=box, has_box=torch.tensor([True, False]))
    assert box_guidance(maps, t).tolist() == pytest.approx([0.75, 0.0])


def test_ssim_and_cyborg():
    torch.manual_seed(0)
    a = torch.rand(2, 16, 16)
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-5)
    assert (ssim(a, 1 - a) < 0.5).all()
    saliency = (torch.rand(2, 16, 16) > 0.5).float()
    t = _targets(b=2, h=16, w=16, saliency=saliency)
    assert torch.allclose(cyborg_guidance(saliency, t), torch.zeros(2), atol=1e-5)
    assert (cyborg_guidance(1 - saliency, t) > 1.0).all()


def test_copy_replace_swaps_objects_and_labels():
    images = torch.zeros(3, 3, 8, 8)
    for i in range(3):
        images[i, :, 2:6, 2:6] = i + 1  # object of image i has value i+1
    images[0, :, 0, 0] = 9  # background marker survives
    boxes = [(2, 2, 6, 6), (0, 0, 8, 8), (4, 4, 8, 8)]
    out, labels = copy_replace(images, boxes, torch.tensor([0, 1, 2]), torch.Generator().manual_seed(0))
    for i in range(3):
        source = int(labels[i])
        assert source != i
        x0, y0, x1, y1 = boxes[i]
        patch = images[source, :, boxes[source][1]:boxes[source][3], boxes[source][0]:boxes[source][2]]
        expected = torch.nn.functional.interpolate(patch[None], size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False)[0]
        assert torch.allclose(out[i, :, y0:y1, x0:x1], expected)
    assert out[0, 0, 0, 0] == 9


def test_guidance_gradient_reaches_the_backbone():
    model = build_model("resnet18", 2, seed=0).train()
    images = torch.randn(2, 3, 64, 64)
    maps = CAM(model, "layer4", "fc")(images, torch.tensor([0, 1]), differentiable=True).maps
    negative = torch.zeros(2, 64, 64)
    negative[:, :32] = 1.0
    t = _targets(b=2, h=64, w=64, positive=torch.tensor([[0.8, 0.8], [0.2, 0.9]]), has_positive=torch.tensor([True, True]), negative=negative)
    loss = click_guidance(maps, t).mean()
    assert math.isfinite(loss.item())
    loss.backward()
    assert model.conv1.weight.grad.abs().sum() > 0 and model.layer2[0].conv1.weight.grad.abs().sum() > 0
