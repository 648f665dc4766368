"""Run the classifier and its attention map over batches of images."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from backend import distributed
from backend.cam import BaseCAM, make_cam
from backend.classifier import Classifier, architecture
from backend.settings import Settings

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Analysis:
    """The model's view of one image: class probabilities, attention map in [0, 1] at model input size."""

    probabilities: np.ndarray
    attention: np.ndarray
    embedding: np.ndarray

    @property
    def predicted(self) -> int:
        return int(self.probabilities.argmax())


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU; under torchrun with several processes each takes its own GPU."""
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    return distributed.device_for(distributed.current(), device)


def to_batch(images: list[np.ndarray], size: int) -> torch.Tensor:
    """Stack RGB uint8 images (H, W, 3) into a normalised (B, 3, size, size) float batch."""
    tensors = []
    for image in images:
        array = image if image.flags.writeable and image.flags.c_contiguous else np.array(image)
        t = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        tensors.append(F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True))
    batch = torch.cat(tensors)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (batch - mean) / std


class Analyzer:
    """Batched class probabilities and attention maps for one loaded classifier."""

    def __init__(self, classifier: Classifier, settings: Settings):
        self.classifier = classifier
        self.batch_size = max(1, settings.predict_batch_size)
        self.device = resolve_device(settings.device)
        model = classifier.model.to(self.device).eval()
        model.requires_grad_(False)  # serving never trains this copy; CAM differentiates the head only
        spec = architecture(classifier.arch)
        self.cam: BaseCAM = make_cam(model, settings.cam_method, settings.cam_layer or spec.last_block, spec.head)

    def analyze(self, images: list[np.ndarray]) -> list[Analysis]:
        """One Analysis per image, in order."""
        results: list[Analysis] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch = to_batch(chunk, self.classifier.image_size).to(self.device)
            out = self.cam(batch)
            probabilities = out.logits.float().softmax(dim=1).cpu().numpy()
            maps = out.maps.float().cpu().numpy()
            embeddings = out.embeddings.float().cpu().numpy()
            results.extend(Analysis(p, m, e) for p, m, e in zip(probabilities, maps, embeddings))
        return results
