"""Attention maps and masks at another resolution, and boxes as masks: one definition each for every layer."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Box = tuple[float, float, float, float]  # (x_min, y_min, x_max, y_max)


def resize_map(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float map to (height, width), float32."""
    if values.shape == (height, width):
        return values
    return np.asarray(Image.fromarray(values.astype(np.float32), mode="F").resize((width, height), Image.BILINEAR))


def resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a boolean mask to (height, width)."""
    if mask.shape == (height, width):
        return mask
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((width, height), Image.NEAREST)) > 0


def colour_thumbnail(pixels: np.ndarray, side: int) -> np.ndarray:
    """(side, side, 3) uint8 box-filtered colours of an RGB image: one colour per attention cell."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).resize((side, side), Image.BOX))


def downsample_maps(maps: np.ndarray, side: int) -> np.ndarray:
    """(N, H, W) maps averaged down to (N, side, side) by adaptive average pooling, float32."""
    tensor = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32)).unsqueeze(1)
    return F.adaptive_avg_pool2d(tensor, side).squeeze(1).numpy()


def box_pixels(box: Box, shape: tuple[int, int], unit: float | None = None) -> tuple[int, int, int, int]:
    """The pixels (x_min, y_min, x_max, y_max; exclusive max) that ``box`` touches in an image of ``shape`` (H, W).

    ``unit``: None when the box is in pixels, 1 for fractions of the image side, 100 for percent (Label Studio).
    Partly covered pixels count and a box covers at least one pixel, so masks, boxes and crops agree everywhere.
    """
    h, w = shape
    if unit is None:
        x0, y0, x1, y1 = np.floor(box[0]), np.floor(box[1]), np.ceil(box[2]), np.ceil(box[3])
    else:
        x0, y0 = np.floor(box[0] / unit * w), np.floor(box[1] / unit * h)
        x1, y1 = np.ceil(box[2] / unit * w), np.ceil(box[3] / unit * h)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    return x0, y0, max(int(x1), x0 + 1), max(int(y1), y0 + 1)


def box_mask(boxes: list[Box] | tuple[Box, ...], shape: tuple[int, int], unit: float | None = None) -> np.ndarray:
    """Boolean (H, W) union of ``boxes`` (in pixels, fractions or percent: see :func:`box_pixels`)."""
    mask = np.zeros(shape, dtype=bool)
    for box in boxes:
        x0, y0, x1, y1 = box_pixels(box, shape, unit)
        mask[y0:y1, x0:x1] = True
    return mask


def pixel_box_mask(box: Box, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of a box given in pixels of an image of ``shape`` (H, W)."""
    return box_mask([box], shape)


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Pixel box (x_min, y_min, x_max, y_max), exclusive max, around a non-empty boolean mask."""
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1
