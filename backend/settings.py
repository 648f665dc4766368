"""Backend settings, read once from environment variables."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from typing import Mapping


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Every knob of the backend; the environment variable is the field name upper-cased."""

    label_studio_url: str = ""
    label_studio_api_key: str = field(default="", repr=False)
    label_studio_timeout: float = 30.0  # seconds per Label Studio API request made by training and ranking
    model_dir: str = "./models"
    model_path: str = ""
    model_arch: str = "resnet18"
    pretrained_weights: str = "auto"  # auto: cached file, else download; cache: cached file only; none
    image_size: int = 224
    cam_method: str = "auto"  # auto: CAM for GAP+linear heads, else Grad-CAM; cam | gradcam | gradcam++ | hirescam
    cam_layer: str = ""  # module name; empty: the last conv block
    superpixel_method: str = "slic"  # slic | felzenszwalb
    superpixel_segments: int = 64
    superpixel_compactness: float = 30.0  # SLIC: higher gives more regular cells on noisy images
    superpixel_size: int = 160  # long side (px) at which superpixels are computed
    ignore_regions: int = 3
    ignore_threshold: float = 0.3  # share of the CAM maximum a suggested region must reach
    heat_floor: float = 0.15  # CAM values below this are not drawn
    predict_batch_size: int = 16
    device: str = "auto"
    basic_auth_user: str = ""
    basic_auth_pass: str = field(default="", repr=False)
    local_files_document_root: str = ""
    allowed_image_hosts: tuple[str, ...] = ()
    max_image_pixels: int = 50_000_000
    max_image_bytes: int = 50 * 1024 * 1024
    image_timeout: float = 10.0
    max_tasks_per_request: int = 1000  # /predict refuses more (Label Studio gives up after ML_TIMEOUT_PREDICT anyway)
    train_loss: str = "auto"  # auto (click and box terms as annotated) | click | box | cyborg | copy_replace | ce
    train_lr: float = 5e-4
    train_steps: int = 100
    train_batch_size: int = 32
    train_unlabeled_batch: int = 32  # labelled images without guidance mixed into each step (cross-entropy only)
    train_guidance_weight: float = 0.75  # w_g (IUI 2023)
    train_class_weight: float = 0.25  # w_c
    cyborg_alpha: float = 0.5
    train_seed: int = 0
    train_batchnorm: str = "train"  # train | frozen (running statistics: exact across processes, steadier on tiny batches)
    train_launcher: str = ""  # e.g. "torchrun --standalone --nproc-per-node 4": run training under it (DDP)
    sal_change_point: str = ""  # SAL on: "auto", a count ("40") or a fraction of the project's tasks ("0.2", "20%")
    train_every: int = 1  # annotations between automatic training runs (0: only on START_TRAINING)
    annotation_policy: str = "latest"  # latest | merge, for several annotations of one task
    keep_versions: int = 5
    queue_strategy: str = ""  # after each training run, re-order the Label Studio queue with this strategy
    queue_batch_size: int = 32
    label_config: str = ""  # labeling config XML (or a path to it) to load the model at worker start
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(f.name.upper())
            if raw is None or raw == "":
                continue
            if f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("float", float):
                values[f.name] = float(raw)
            elif f.name == "allowed_image_hosts":
                values[f.name] = _split(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values)

    def configure_logging(self) -> None:
        """Log to stderr at ``LOG_LEVEL`` with the process id (scripts and runner processes)."""
        logging.basicConfig(level=getattr(logging, self.log_level.upper(), logging.INFO),
                            format="[%(asctime)s] [%(levelname)s] [%(name)s::%(process)d] %(message)s")
