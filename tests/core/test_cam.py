import pytest
import torch

from backend.core.cam import CAM, METHODS, GradCAM, GradCAMPlusPlus, HiResCAM, make_cam, normalize_maps
from backend.models.architectures import build_model


@pytest.fixture(scope="module")
def resnet():
    return build_model("resnet18", 3, seed=0).eval()


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(0)
    return torch.randn(4, 3, 64, 64)


def test_maps_are_normalised_at_image_size(resnet, images):
    out = GradCAM(resnet, "layer4")(images)
    assert out.maps.shape == (4, 64, 64)
    assert out.logits.shape == (4, 3) and out.embeddings.shape == (4, 512)
    assert float(out.maps.min()) >= 0.0 and float(out.maps.max()) <= 1.0
    assert torch.allclose(out.maps.flatten(1).max(1).values, torch.ones(4))
    assert torch.equal(out.targets, out.logits.argmax(1))


def test_cam_equals_gradcam_for_gap_linear_head(resnet, images):
    grad = GradCAM(resnet, "layer4")(images)
    cam = CAM(resnet, "layer4", "fc")(images)
    assert torch.allclose(grad.maps, cam.maps, atol=1e-4)
    targets = torch.tensor([2, 1, 0, 2])
    assert torch.allclose(
        GradCAM(resnet, "layer4")(images, targets).maps, CAM(resnet, "layer4", "fc")(images, targets).maps, atol=1e-4
    )


def test_batched_equals_one_by_one(resnet, images):
    batched = GradCAM(resnet, "layer4")(images).maps
    single = torch.cat([GradCAM(resnet, "layer4")(images[i : i + 1]).maps for i in range(4)])
    assert torch.allclose(batched, single, atol=1e-5)


def test_hirescam_equals_gradcam_before_a_gap_head_and_differs_earlier(resnet, images):
    """With global average pooling the gradient is constant over space, so HiResCAM reduces to Grad-CAM there."""
    targets = torch.tensor([0, 1, 2, 0])
    assert torch.allclose(HiResCAM(resnet, "layer4")(images, targets).maps, GradCAM(resnet, "layer4")(images, targets).maps, atol=1e-5)
    hires, grad = HiResCAM(resnet, "layer3")(images, targets).maps, GradCAM(resnet, "layer3")(images, targets).maps
    assert (hires - grad).abs().max() > 0.05


def test_gradcam_plus_plus_weights_only_positive_gradients():
    activations = torch.ones(1, 2, 2, 2)
    gradients = torch.stack([torch.full((2, 2), 0.5), torch.full((2, 2), -0.5)]).unsqueeze(0)
    weights = GradCAMPlusPlus.weights(None, activations, gradients, None)
    # channel 0: alpha = g^2 / (2 g^2 + sum(A) g^3) = 0.25 / (0.5 + 4 * 0.125) = 0.25, summed over 4 pixels of 0.5 * 0.25
    assert torch.allclose(weights, torch.tensor([[0.5, 0.0]]))


@pytest.mark.parametrize("method", ["cam", *METHODS])
def test_differentiable_mode_reaches_backbone_weights(method, images):
    model = build_model("resnet18", 3, seed=0).train()
    out = make_cam(model, method, "layer4", "fc")(images, differentiable=True)
    loss = out.maps[:, :32, :].mean()  # push attention out of the top half
    loss.backward()
    assert model.conv1.weight.grad is not None and model.conv1.weight.grad.abs().sum() > 0
    assert model.layer1[0].conv1.weight.grad.abs().sum() > 0


def test_inference_mode_leaves_no_gradients(resnet, images):
    out = GradCAM(resnet, "layer4")(images)
    assert not out.maps.requires_grad
    assert all(p.grad is None for p in resnet.parameters())
    assert all(p.requires_grad for p in resnet.parameters())  # flags restored


def test_auto_method_picks_cam_only_for_linear_heads():
    assert isinstance(make_cam(build_model("resnet18", 2), "auto", "layer4", "fc"), CAM)
    mobile = build_model("mobilenet_v3_small", 2).eval()
    cam = make_cam(mobile, "auto", "features", "classifier.3")
    assert type(cam) is GradCAM
    assert cam(torch.randn(2, 3, 64, 64)).maps.shape == (2, 64, 64)
    with pytest.raises(ValueError):
        CAM(mobile, "features", "classifier.3")(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="unknown CAM method"):
        make_cam(mobile, "eigen", "features", None)


def test_normalize_maps_handles_flat_maps():
    maps = torch.stack([torch.zeros(4, 4), torch.arange(16.0).view(4, 4)])
    out = normalize_maps(maps)
    assert torch.equal(out[0], torch.zeros(4, 4))
    assert out[1].min() == 0 and out[1].max() == 1


@pytest.mark.parametrize("method", ["cam", *METHODS])
def test_attention_follows_the_evidence(method):
    """A model whose class 0 is 'bright top-left corner' looks at that corner, whichever method draws the map."""
    torch.manual_seed(0)
    model = build_model("resnet18", 2, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(64, 3, 64, 64) * 0.1
    y = torch.arange(64) % 2
    x[y == 0, :, :16, :16] += 3.0
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    maps = make_cam(model, method, "layer4", "fc")(x[y == 0][:8], torch.zeros(8, dtype=torch.long)).maps
    assert float(maps[:, :32, :32].mean()) > float(maps[:, 32:, 32:].mean())
