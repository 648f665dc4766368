"""Backend settings, read once from environment variables and checked at start-up.

Every variable is a field name upper-cased, except the grouped ones: the fine-tuning
run (:class:`TrainConfig`, ``TRAIN_*`` and ``CYBORG_ALPHA``) and the segmentation
(:class:`SuperpixelParams`, ``SUPERPIXEL_*``), whose defaults live in those classes.
A wrong value stops the start with a :class:`SettingsError` naming the variable,
instead of failing later inside a request or a background run.

:class:`Settings` is what the entry points hold (the web app, the runner, the command-line tools); the code below
them gets the typed group it needs: :attr:`Settings.serving` (/predict, the preview and the queue's scoring),
:attr:`Settings.training` (a training run), :attr:`Settings.queue`, :attr:`Settings.label_studio` and
:attr:`Settings.model`. A runner process gets them as a JSON document (:meth:`Settings.to_document`) whose
secrets travel only in its environment, never on disk.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import shlex
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping
from urllib.parse import urlparse

from backend.active import STRATEGIES
from backend.core.cam import ATTENTION
from backend.core.cam import METHODS as CAM_METHODS
from backend.core.superpixels import METHODS as SUPERPIXEL_METHODS
from backend.core.superpixels import SuperpixelParams
from backend.labelstudio.addresses import is_public
from backend.labelstudio.annotations import POLICIES
from backend.labelstudio.client import LabelStudioAccess
from backend.labelstudio.config import LabelRoles
from backend.labelstudio.images import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, ImageAccess
from backend.models.architectures import ARCHITECTURES
from backend.models.classifier import PRETRAINED_MODES
from backend.training.sal import ChangePoint
from backend.training.trainer import BATCHNORM_MODES, LOSSES, TrainConfig

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
IMAGE_CACHE_FOLDER = ".image-cache"  # under MODEL_DIR; a dot folder is never taken for a project
SUPERPIXEL_CACHE_FOLDER = ".superpixel-cache"  # under MODEL_DIR, beside the images
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMAT = "[%(asctime)s] [%(levelname)s] [%(name)s::%(process)d] %(message)s"  # scripts, runners, training logs
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
_HOST_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?")
# grouped settings: field of Settings -> (dataclass, {its field: variable})
GROUPS: dict[str, tuple[type, dict[str, str]]] = {
    "train": (TrainConfig, {
        "loss": "TRAIN_LOSS", "lr": "TRAIN_LR", "steps": "TRAIN_STEPS", "batch_size": "TRAIN_BATCH_SIZE",
        "unlabeled_batch": "TRAIN_UNLABELED_BATCH", "guidance_weight": "TRAIN_GUIDANCE_WEIGHT",
        "class_weight": "TRAIN_CLASS_WEIGHT", "cyborg_alpha": "CYBORG_ALPHA", "seed": "TRAIN_SEED",
        "batchnorm": "TRAIN_BATCHNORM", "pseudo_objects": "TRAIN_PSEUDO_OBJECTS", "keep_best": "TRAIN_KEEP_BEST",
        "swap_fit": "TRAIN_SWAP_FIT",
    }),
    "superpixels": (SuperpixelParams, {
        "method": "SUPERPIXEL_METHOD", "segments": "SUPERPIXEL_SEGMENTS", "work_size": "SUPERPIXEL_SIZE",
        "compactness": "SUPERPIXEL_COMPACTNESS",
    }),
}


SECRETS = ("label_studio_api_key", "basic_auth_pass")  # never in a settings document: a child reads them from its env


class SettingsError(ValueError):
    """A setting has a value the backend cannot use; the message names the variable."""


@dataclass(frozen=True)
class ModelSource:
    """Where a project's first model comes from (its newest version wins once it has one)."""

    path: str
    arch: str
    pretrained_weights: str
    image_size: int


@dataclass(frozen=True)
class ServingSettings:
    """What analysing a task needs, whoever asks: /predict, the interactive preview and the queue's scoring."""

    model_dir: str
    model: ModelSource
    device: str
    cam_method: str
    cam_layer: str
    superpixels: SuperpixelParams
    ignore_regions: int
    ignore_threshold: float
    heat_floor: float
    prefill_class: bool
    predict_batch_size: int
    predict_deadline: float
    model_cache_size: int
    sal: bool  # SAL is on: a project's interpretability model may write the attention maps
    label_roles: LabelRoles
    image_access: ImageAccess
    superpixel_cache: tuple[str, int]  # (folder, bytes at most) of the superpixels kept per image; 0 bytes: none


@dataclass(frozen=True)
class TrainingSettings:
    """What a training run and its scheduling need."""

    model_dir: str
    model: ModelSource
    train: TrainConfig
    device: str
    superpixels: SuperpixelParams
    annotation_policy: str
    max_image_pixels: int
    validation_share: float
    keep_versions: int
    sal_change_point: str
    every: int  # annotations between automatic runs
    max_concurrent: int
    threads: int
    launcher: str
    max_projects: int
    standby: float  # seconds a runner started ahead of its run waits for one (0: none)


@dataclass(frozen=True)
class QueueSettings:
    """How the annotation queue is ordered after each run (no strategy: it is not) and what is pushed with it."""

    strategy: str
    batch_size: int
    seed: int
    public_url: str = ""  # the backend as browsers reach it: each push links the shortcut report from Label Studio


@dataclass(frozen=True)
class Settings:
    """Every knob of the backend (see the module docstring for the variable names)."""

    label_studio_url: str = ""
    label_studio_api_key: str = field(default="", repr=False)
    label_studio_timeout: float = 30.0  # seconds per Label Studio API request made by training and ranking
    model_dir: str = "./models"
    model_path: str = ""
    model_arch: str = "resnet18"
    pretrained_weights: str = "auto"  # auto: cached file, else download; cache: cached file only; none
    image_size: int = 224
    cam_method: str = "auto"  # auto: A(x) of attention branch networks, CAM for GAP+linear heads, else Grad-CAM
    cam_layer: str = ""  # module name; empty: the last conv block
    superpixels: SuperpixelParams = SuperpixelParams()
    ignore_regions: int = 3
    ignore_threshold: float = 0.3  # share of the CAM maximum a suggested region must reach
    heat_floor: float = 0.15  # CAM values below this are not drawn
    predict_batch_size: int = 16
    device: str = "auto"
    basic_auth_user: str = ""
    basic_auth_pass: str = field(default="", repr=False)
    local_files_document_root: str = ""
    allowed_image_hosts: tuple[str, ...] = ()
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_image_bytes: int = 50 * 1024 * 1024
    max_image_side: int = MAX_IMAGE_SIDE
    image_timeout: float = 10.0
    image_cache_mb: int = 1024  # downloaded images kept in MODEL_DIR/.image-cache for /predict, scoring and training
    superpixel_cache_mb: int = 256  # each image's superpixels, kept in MODEL_DIR/.superpixel-cache (about 3 kB each)
    max_tasks_per_request: int = 1000  # /predict refuses more (Label Studio gives up after ML_TIMEOUT_PREDICT anyway)
    predict_deadline: float = 60.0  # seconds per /predict: tasks not reached by then get empty predictions
    max_projects: int = 100  # project folders under MODEL_DIR; a webhook or /setup for one more gets 403
    model_cache_size: int = 8  # loaded models (project x labeling config) a worker keeps, least recently used leave first
    train: TrainConfig = TrainConfig()  # its cam_method and cam_layer always follow CAM_METHOD and CAM_LAYER
    train_max_concurrent: int = 1  # training runs at once across all projects; the others wait in line
    train_threads: int = 0  # torch threads of a training run; 0: one per core other work leaves free at its start
    train_standby: float = 0.0  # seconds a runner started ahead waits for the next run (0: start one per run)
    train_launcher: str = ""  # e.g. "torchrun --standalone --nproc-per-node 4": run training under it (DDP)
    sal_change_point: str = ""  # SAL on: "auto", a count ("40") or a fraction of the project's tasks ("0.2", "20%")
    train_every: int = 1  # annotations between automatic training runs (0: only on START_TRAINING)
    annotation_policy: str = "latest"  # latest | merge, for several annotations of one task
    keep_versions: int = 5
    validation_share: float = 0.2  # annotated tasks held out of training to measure each version (0: none)
    queue_strategy: str = ""  # after each training run, re-order the Label Studio queue with this strategy
    queue_batch_size: int = 32
    public_url: str = ""  # the backend's address in people's browsers; set: pushes link the shortcut report (/report)
    focus_labels: tuple[str, ...] = ()  # label names meaning "the object is here" (clicks), e.g. "objet,Objekt"
    ignore_labels: tuple[str, ...] = ()  # label names meaning "do not use this" (clicks, brush, suggested regions)
    object_labels: tuple[str, ...] = ()  # brush label names that paint the object
    prefill_class: bool = False  # also tick the predicted class as the answer (else it shows only as the model's guess)
    label_config: str = ""  # labeling config XML (or a path to it) to load the model at worker start
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", replace(self.train, cam_method=self.cam_method, cam_layer=self.cam_layer))
        _validate(self)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``environ`` (default ``os.environ``); ``overrides``, keyed by the lower-cased variable
        name (``train_steps=5``), win. SettingsError names the first variable that is wrong."""
        environ = dict(os.environ if environ is None else environ)
        for alias, variable in ALIASES.items():  # the names the official Label Studio ML backends read
            if environ.get(alias) and not environ.get(variable):
                environ[variable] = environ[alias]
        values: dict[str, Any] = {}
        groups: dict[str, dict[str, Any]] = {name: {} for name in GROUPS}
        for variable, (group, name, kind) in variables().items():
            if variable.lower() in overrides:
                value = overrides.pop(variable.lower())
            elif environ.get(variable) not in (None, ""):
                value = _parse(variable, environ[variable], kind)
            else:
                continue
            (groups[group] if group else values)[name] = value
        if overrides:
            raise SettingsError(f"unknown settings {sorted(overrides)}")
        for group, (kind, _) in GROUPS.items():
            values[group] = kind(**groups[group])
        try:
            return cls(**values)
        except TypeError as exc:
            raise SettingsError(str(exc)) from None

    def updated(self, **overrides: object) -> "Settings":
        """These settings with ``overrides`` keyed like :meth:`from_env`'s (``train_steps=5``), validated again."""
        return Settings.from_env(self.to_env(), **overrides)

    def to_env(self) -> dict[str, str]:
        """Environment variables that rebuild these settings in a child process (secrets stay out of argv)."""
        env = {}
        for variable, (group, name, _) in variables().items():
            value = getattr(getattr(self, group) if group else self, name)
            env[variable] = ",".join(value) if isinstance(value, tuple) else str(value).lower() if isinstance(value, bool) else str(value)
        return env

    def to_document(self) -> dict[str, Any]:
        """These settings as JSON-ready values for a child process, secrets left out (see :meth:`from_document`)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in SECRETS}

    @classmethod
    def from_document(cls, document: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> "Settings":
        """Settings from :meth:`to_document`'s values, the secrets from ``environ`` (default ``os.environ``),
        validated again. SettingsError when the document is not one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {name: environ.get(name.upper(), "") for name in SECRETS}
        try:
            for f in fields(cls):
                if f.name in document and f.name not in SECRETS:
                    value = document[f.name]
                    kind = GROUPS[f.name][0] if f.name in GROUPS else _type_of(f.type)
                    values[f.name] = kind(**value) if f.name in GROUPS else tuple(value) if kind is tuple else value
            return cls(**values)
        except SettingsError:
            raise
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"not a settings document: {exc}") from None

    @property
    def model(self) -> ModelSource:
        return ModelSource(self.model_path, self.model_arch, self.pretrained_weights, self.image_size)

    @property
    def label_studio(self) -> LabelStudioAccess:
        return LabelStudioAccess(self.label_studio_url, self.label_studio_api_key, self.label_studio_timeout)

    @property
    def serving(self) -> ServingSettings:
        return ServingSettings(
            self.model_dir, self.model, self.device, self.cam_method, self.cam_layer, self.superpixels,
            self.ignore_regions, self.ignore_threshold, self.heat_floor, self.prefill_class, self.predict_batch_size,
            self.predict_deadline, self.model_cache_size, bool(self.sal_change_point), self.label_roles, self.image_access,
            (os.path.join(self.model_dir, SUPERPIXEL_CACHE_FOLDER), self.superpixel_cache_mb * 1024 * 1024))

    @property
    def training(self) -> TrainingSettings:
        return TrainingSettings(
            self.model_dir, self.model, self.train, self.device, self.superpixels, self.annotation_policy,
            self.max_image_pixels, self.validation_share, self.keep_versions, self.sal_change_point, self.train_every,
            self.train_max_concurrent, self.train_threads, self.train_launcher, self.max_projects, self.train_standby)

    @property
    def queue(self) -> QueueSettings:
        return QueueSettings(self.queue_strategy, self.queue_batch_size, self.train.seed, self.public_url)

    @property
    def label_roles(self) -> LabelRoles:
        return LabelRoles(self.focus_labels, self.ignore_labels, self.object_labels)

    @property
    def image_access(self) -> ImageAccess:
        return ImageAccess(self.label_studio_url, self.label_studio_api_key, self.local_files_document_root,
                           self.allowed_image_hosts, self.max_image_pixels, self.max_image_bytes, self.image_timeout,
                           self.max_image_side, os.path.join(self.model_dir, IMAGE_CACHE_FOLDER),
                           self.image_cache_mb * 1024 * 1024)

    def configure_logging(self) -> None:
        """Log to stderr at ``LOG_LEVEL`` with the process id (scripts and runner processes)."""
        logging.basicConfig(level=getattr(logging, self.log_level.upper(), logging.INFO),
                            format=LOG_FORMAT)
        quiet_url_logging()


def quiet_url_logging() -> None:
    """urllib3 logs each request line at DEBUG, pre-signed storage URLs with their signatures included: keep it at
    WARNING whatever LOG_LEVEL says."""
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def _plain(value: Any) -> Any:
    """A setting's value as JSON: groups as objects, tuples as lists."""
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def variables() -> dict[str, tuple[str | None, str, type]]:
    """Every environment variable: (group field or None, field name, type)."""
    found: dict[str, tuple[str | None, str, type]] = {}
    for f in fields(Settings):
        if f.name in GROUPS:
            kind, names = GROUPS[f.name]
            types = {g.name: g.type for g in fields(kind)}
            for name, variable in names.items():
                found[variable] = (f.name, name, _type_of(types[name]))
        else:
            found[f.name.upper()] = (None, f.name, _type_of(f.type))
    return found


def _type_of(annotation: object) -> type:
    return {"int": int, "float": float, "bool": bool, "tuple[str, ...]": tuple}.get(str(annotation), str)


def _parse(variable: str, raw: str, kind: type) -> Any:
    if kind is bool:
        word = raw.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise SettingsError(f"{variable} must be one of {', '.join(TRUE_WORDS + FALSE_WORDS)}, got '{raw}'")
        return word in TRUE_WORDS
    try:
        if kind is tuple:
            return tuple(part.strip().lower() for part in raw.split(",") if part.strip())
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{variable} must be {'an integer' if kind is int else 'a number'}, got '{raw}'") from None


ALIASES = {"LABEL_STUDIO_HOST": "LABEL_STUDIO_URL", "LABEL_STUDIO_ACCESS_TOKEN": "LABEL_STUDIO_API_KEY"}
# Allowed values of every enumerated variable, and bounds (low, high) of every number; None: unbounded.
CHOICES: dict[str, tuple[str, ...]] = {
    "MODEL_ARCH": tuple(ARCHITECTURES),
    "PRETRAINED_WEIGHTS": PRETRAINED_MODES,
    "CAM_METHOD": ("auto", "cam", ATTENTION, *CAM_METHODS),
    "SUPERPIXEL_METHOD": SUPERPIXEL_METHODS,
    "TRAIN_LOSS": LOSSES,
    "TRAIN_BATCHNORM": BATCHNORM_MODES,
    "ANNOTATION_POLICY": POLICIES,
    "QUEUE_STRATEGY": ("", *sorted(STRATEGIES)),
    "LOG_LEVEL": LOG_LEVELS,
}
BOUNDS: dict[str, tuple[float, float]] = {
    "LABEL_STUDIO_TIMEOUT": (1e-3, 600), "IMAGE_SIZE": (8, 4096), "SUPERPIXEL_SEGMENTS": (1, 10_000),
    "SUPERPIXEL_SIZE": (8, 4096), "SUPERPIXEL_COMPACTNESS": (1e-6, 1e6), "IGNORE_REGIONS": (0, 100),
    "IGNORE_THRESHOLD": (0, 1), "HEAT_FLOOR": (0, 0.999), "PREDICT_BATCH_SIZE": (1, 1024),
    "MAX_IMAGE_PIXELS": (1, 1_000_000_000), "MAX_IMAGE_BYTES": (1, 1 << 30), "MAX_IMAGE_SIDE": (1, 100_000),
    "IMAGE_TIMEOUT": (1e-3, 600), "IMAGE_CACHE_MB": (0, 1 << 20), "SUPERPIXEL_CACHE_MB": (0, 1 << 20),
    "MAX_TASKS_PER_REQUEST": (1, 10_000),
    "PREDICT_DEADLINE": (1, 3600), "MAX_PROJECTS": (1, 100_000), "MODEL_CACHE_SIZE": (1, 1000),
    "TRAIN_LR": (1e-12, 10), "TRAIN_STEPS": (1, 100_000), "TRAIN_BATCH_SIZE": (1, 4096),
    "TRAIN_UNLABELED_BATCH": (0, 4096), "TRAIN_GUIDANCE_WEIGHT": (0, 1000), "CYBORG_ALPHA": (0, 1),
    "TRAIN_CLASS_WEIGHT": (0, 1000), "TRAIN_SEED": (0, 2**32 - 1), "TRAIN_EVERY": (0, 1_000_000),
    "TRAIN_MAX_CONCURRENT": (1, 64), "TRAIN_THREADS": (0, 1024), "TRAIN_STANDBY": (0, 86_400),
    "KEEP_VERSIONS": (1, 1000), "VALIDATION_SHARE": (0, 0.9),
    "QUEUE_BATCH_SIZE": (1, 100_000),
}  # every number has both bounds: an "inf" or a typo'd exponent would hold a slot or a request for ever


def _check_base_url(variable: str, url: str) -> None:
    """An http(s) address with a host and nothing a request or a link could leak or lose (user, query, fragment)."""
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise SettingsError(f"{variable} cannot be parsed: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError(f"{variable} '{url}' must be http:// or https:// with a host")
    if parsed.username is not None or parsed.password is not None or parsed.query or parsed.fragment:
        raise SettingsError(f"{variable} must not carry user information, a query or a fragment")


def _check_allowed_host(host: str) -> None:
    """A host name, or a public IP address: a private one would open the backend's network to task URLs."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise SettingsError(f"ALLOWED_IMAGE_HOSTS entry '{host}' is not a host name or an IP address") from None
        return
    if not is_public(address):
        raise SettingsError(f"ALLOWED_IMAGE_HOSTS entry '{host}' is a private or reserved address")


def _validate(settings: Settings) -> None:
    env = settings.to_env()
    for variable, (_, _, kind) in variables().items():
        raw = env[variable]
        if variable in CHOICES:
            allowed = CHOICES[variable]
            value = raw.upper() if variable == "LOG_LEVEL" else raw
            if value not in allowed:
                raise SettingsError(f"{variable} is '{raw}'; choose one of {', '.join(repr(a) for a in allowed)}")
        if variable in BOUNDS:
            low, high = BOUNDS[variable]
            value = kind(raw)
            if not low <= value <= high:  # also refuses nan
                raise SettingsError(f"{variable} is {raw}; it must be between {low:g} and {high:g}")
    if not _DEVICE.fullmatch(settings.device):
        raise SettingsError(f"DEVICE is '{settings.device}'; use auto, cpu, cuda, cuda:N or mps")
    if bool(settings.basic_auth_user) != bool(settings.basic_auth_pass):
        raise SettingsError("BASIC_AUTH_USER and BASIC_AUTH_PASS must be set together (one alone would leave the backend open)")
    for variable, value in (("BASIC_AUTH_USER", settings.basic_auth_user), ("BASIC_AUTH_PASS", settings.basic_auth_pass)):
        if value and (not value.strip() or value != value.strip() or any(ord(c) < 32 for c in value)):
            raise SettingsError(f"{variable} has blanks at its ends or control characters (only blanks: no protection)")
    for variable, url in (("LABEL_STUDIO_URL", settings.label_studio_url), ("PUBLIC_URL", settings.public_url)):
        if url:
            _check_base_url(variable, url)
    for host in settings.allowed_image_hosts:
        _check_allowed_host(host)
    if settings.sal_change_point:
        try:
            ChangePoint.parse(settings.sal_change_point)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
    try:
        shlex.split(settings.train_launcher)
    except ValueError as exc:
        raise SettingsError(f"TRAIN_LAUNCHER cannot be split into a command: {exc}") from None
