"""The superpixels of an image, computed once: SLIC takes about 13 ms for a 128 px image on one core, the model's
pass less than that, and every training run re-analyses the same images with a new model. Keyed by the pixels and
the segmentation settings, so a changed image or setting never gets stale segments."""
from __future__ import annotations

import hashlib
import io
import os
import zlib

import numpy as np

from backend.core.superpixels import SuperpixelParams, Superpixels, compute_superpixels, working_shape
from backend.storage.disk_cache import DiskCache


def _key(pixels: np.ndarray, params: SuperpixelParams) -> str:
    digest = hashlib.blake2b(np.ascontiguousarray(pixels).data, digest_size=20)
    digest.update(repr((pixels.shape, params)).encode())
    return digest.hexdigest()


def _encode(segments: Superpixels) -> bytes:
    labels = segments.labels
    small = labels.astype(np.uint8 if segments.count <= 256 else np.uint16)
    buffer = io.BytesIO()
    np.save(buffer, small, allow_pickle=False)
    return zlib.compress(buffer.getvalue(), 1)


def _decode(data: bytes, shape: tuple[int, int]) -> Superpixels | None:
    """The stored segments, or None when the entry is not what this image's segmentation would be (damaged)."""
    try:
        labels = np.load(io.BytesIO(zlib.decompress(data)), allow_pickle=False)
    except (ValueError, OSError, zlib.error, EOFError):
        return None
    if labels.shape != shape or labels.dtype.kind != "u":
        return None
    return Superpixels(labels.astype(np.int32))


class SuperpixelCache:
    """:func:`compute_superpixels` with its results kept in ``folder`` (at most ``max_bytes``; 0: not kept)."""

    def __init__(self, folder: str | os.PathLike[str], max_bytes: int):
        self.store = DiskCache(folder, max_bytes) if max_bytes > 0 else None

    def segments(self, pixels: np.ndarray, params: SuperpixelParams) -> Superpixels:
        if self.store is None:
            return compute_superpixels(pixels, params)
        key = _key(pixels, params)
        data = self.store.get(key)
        found = _decode(data, working_shape(*pixels.shape[:2], params.work_size)) if data is not None else None
        if found is None:
            found = compute_superpixels(pixels, params)
            self.store.put(key, _encode(found))
        return found
