"""Make the CUDA-linked torchvision wheel importable next to CPU torch.

PyPI's torchvision 0.28.0 is built against CUDA torch. Next to the CPU build of
torch 2.13.0 its C++ extension does not load, and ``import torchvision`` fails
with ``RuntimeError: operator torchvision::nms does not exist`` because
``torchvision/_meta_registrations.py`` registers fake kernels for ops that were
never defined. Defining the two op schemas it touches (``nms`` and ``qnms``)
before the import is enough for models and transforms. ``torchvision.io`` and
``torchvision.ops.nms`` stay unavailable; the backend reads images with Pillow.

When the real extension loads (GPU hosts, matching wheels) the ops already exist
and this module does nothing.
"""
from __future__ import annotations

import glob
import importlib.util
import os

import torch

_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library: torch.library.Library | None = None


def _op_exists(name: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
    except RuntimeError:
        return False
    return True


def _extension_loads() -> bool:
    """Try to load torchvision's own compiled ops (works where the wheel matches torch)."""
    spec = importlib.util.find_spec("torchvision")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for lib in glob.glob(os.path.join(folder, "_C*.so")) + glob.glob(os.path.join(folder, "_C*.pyd")):
            try:
                torch.ops.load_library(lib)
            except (OSError, RuntimeError):
                return False
            return True
    return False


def ensure_torchvision_importable() -> bool:
    """Define the missing ``torchvision::nms``/``qnms`` schemas; return True if it had to."""
    global _library
    if _library is not None:
        return True
    if all(_op_exists(name) for name in _SCHEMAS) or _extension_loads():
        return False
    _library = torch.library.Library("torchvision", "DEF")
    for name, schema in _SCHEMAS.items():
        if not _op_exists(name):
            _library.define(schema)
    return True
