import numpy as np
import torch

from backend.core.cam import CAM, GradCAM
from backend.models.architectures import build_model
from backend.models.inference import Analyzer, cam_outputs, model_cam, to_batch


def test_to_batch_normalises_and_resizes():
    white = np.full((10, 20, 3), 255, dtype=np.uint8)
    batch = to_batch([white, np.zeros((5, 5, 3), dtype=np.uint8)], 8)
    assert batch.shape == (2, 3, 8, 8)
    assert torch.allclose(batch[0, 0], torch.full((8, 8), (1 - 0.485) / 0.229))
    assert torch.allclose(batch[1, 2], torch.full((8, 8), -0.406 / 0.225))


def test_model_cam_picks_the_architectures_layers():
    model = build_model("small_cnn", 2)
    assert isinstance(model_cam(model, "small_cnn"), CAM)
    assert isinstance(model_cam(model, "small_cnn", "gradcam"), GradCAM)


def test_cam_outputs_in_batches_equal_one_pass():
    model = build_model("small_cnn", 3, seed=1).eval()
    inputs = torch.randn(7, 3, 32, 32)
    cam = model_cam(model, "small_cnn")
    whole, split = cam_outputs(cam, inputs, batch=7), cam_outputs(cam, inputs, batch=3)
    for a, b in ((whole.probabilities, split.probabilities), (whole.maps, split.maps), (whole.embeddings, split.embeddings)):
        assert np.allclose(a, b, atol=1e-5)
    assert whole.probabilities.shape == (7, 3) and whole.maps.shape == (7, 32, 32)
    assert np.allclose(whole.probabilities.sum(1), 1, atol=1e-5)
    targets = torch.tensor([2] * 7)
    assert not np.allclose(cam_outputs(cam, inputs, targets).maps, whole.maps)  # maps follow the target class
    empty = cam_outputs(cam, inputs[:0])
    assert empty.maps.shape == (0, 32, 32)


def test_analyzer_gives_one_analysis_per_image_in_order(rgb_image):
    model = build_model("small_cnn", 2, seed=0)
    analyzer = Analyzer(model, "small_cnn", 32, torch.device("cpu"), batch_size=2)
    images = [rgb_image, rgb_image[::-1].copy(), rgb_image[:, ::-1].copy()]
    analyses = analyzer.analyze(images)
    assert len(analyses) == 3
    assert analyses[0].attention.shape == (32, 32) and analyses[0].predicted in (0, 1)
    single = analyzer.analyze([images[2]])[0]
    assert np.allclose(single.probabilities, analyses[2].probabilities, atol=1e-5)
    assert not any(p.requires_grad for p in analyzer.cam.model.parameters())  # serving never trains its copy
    assert model.training and all(p.requires_grad for p in model.parameters())  # the caller's model is left alone
