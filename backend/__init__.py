"""Label Studio ML backend for human-in-the-loop attention guidance."""
from backend.tv_compat import ensure_torchvision_importable

ensure_torchvision_importable()

__version__ = "0.1.0"
