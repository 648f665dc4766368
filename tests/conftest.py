"""Shared fixtures: a small generated biased dataset and a classifier trained on it in seconds."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import backend  # noqa: F401
from backend.evaluation.dataset import load_dataset
from backend.evaluation.synthetic import BiasSpec, write_dataset
from backend.labelstudio.templates import render_template
from backend.models.checkpoints import save_checkpoint
from backend.settings import Settings
from backend.training.from_scratch import train_from_scratch
from tests.support.backend_server import start_backend

warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
torch.set_flush_denormal(True)


@pytest.fixture(autouse=True)
def _own_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test downloads into its own image cache (an absolute folder replaces MODEL_DIR/.image-cache), so no
    test is served an image another test (or an earlier run on a reused port) fetched; superpixels likewise."""
    monkeypatch.setattr("backend.settings.IMAGE_CACHE_FOLDER", str(tmp_path_factory.mktemp("image-cache")))
    monkeypatch.setattr("backend.settings.SUPERPIXEL_CACHE_FOLDER", str(tmp_path_factory.mktemp("superpixel-cache")))


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data"), BiasSpec(size=64, train=64, val=8, test=16, shifted=16))


@pytest.fixture(scope="session")
def dataset(dataset_dir: Path):
    return load_dataset(dataset_dir)


@pytest.fixture(scope="session")
def checkpoint(dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = train_from_scratch(dataset.images("train"), dataset.labels("train"), len(dataset.classes), image_size=64, epochs=1)
    path = tmp_path_factory.mktemp("ckpt") / "base.pt"
    save_checkpoint(model, str(path), "resnet18", list(dataset.classes), 64, "test-base")
    return path


@pytest.fixture
def settings(tmp_path: Path, checkpoint: Path, dataset_dir: Path) -> Settings:
    return Settings.from_env(
        {},
        model_dir=str(tmp_path / "models"),
        model_path=str(checkpoint),
        local_files_document_root=str(dataset_dir),
        pretrained_weights="none",
        device="cpu",
    )


@pytest.fixture(scope="session")
def label_config_xml(dataset) -> str:
    return render_template("combined", dataset.classes)


@pytest.fixture
def tasks() -> list[dict]:
    return [{"id": i, "data": {"image": f"/data/local-files/?d=images/test/{i:05d}.png"}} for i in range(3)]


@pytest.fixture
def rgb_image() -> np.ndarray:
    """Four coloured blocks with mild noise."""
    rng = np.random.default_rng(0)
    image = np.zeros((48, 64, 3), dtype=np.float64)
    image[:24, :32] = (200, 30, 30)
    image[:24, 32:] = (30, 200, 30)
    image[24:, :32] = (30, 30, 200)
    image[24:, 32:] = (220, 220, 220)
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def biased(tmp_path_factory: pytest.TempPathFactory):
    """A SmallCNN that learned the shortcut: near-perfect on test.csv, poor on shifted.csv."""
    root = write_dataset(tmp_path_factory.mktemp("biased"), BiasSpec(size=64, train=400, val=8, test=64, shifted=64))
    data = load_dataset(root)
    model = train_from_scratch(data.images("train"), data.labels("train"), len(data.classes), "small_cnn", image_size=64, epochs=6)
    return data, model


@pytest.fixture
def biased_project(biased, tmp_path: Path):
    """(data, settings, combined config) for a project served by the biased small CNN, trained quickly on CPU."""
    data, model = biased
    checkpoint = tmp_path / "base.pt"
    save_checkpoint(model, str(checkpoint), "small_cnn", list(data.classes), 64, "biased")
    settings = Settings.from_env(
        {}, model_dir=str(tmp_path / "models"), model_path=str(checkpoint), local_files_document_root=str(data.root),
        pretrained_weights="none", device="cpu", train_steps=5, train_batch_size=8, train_unlabeled_batch=0,
    )
    return data, settings, render_template("combined", data.classes)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory, biased):
    """A real Label Studio on 127.0.0.1 whose document root holds the biased dataset (as ``dataset/``)."""
    import shutil

    from tests.support.label_studio_server import start_label_studio

    workdir = tmp_path_factory.mktemp("label-studio")
    document_root = workdir / "files"
    shutil.copytree(biased[0].root, document_root / "dataset")
    server = start_label_studio(workdir, document_root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(label_studio, biased, tmp_path_factory):
    """Our backend under gunicorn, configured to read Label Studio's files and to train quickly."""
    data, model = biased
    work = tmp_path_factory.mktemp("e2e")
    checkpoint = work / "base.pt"
    save_checkpoint(model, str(checkpoint), "small_cnn", list(data.classes), 64, "biased")
    env = {
        "WORKERS": "2", "THREADS": "2",
        "LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.token,
        "MODEL_DIR": str(work / "models"), "MODEL_PATH": str(checkpoint), "PRETRAINED_WEIGHTS": "none",
        "LOCAL_FILES_DOCUMENT_ROOT": str(label_studio.document_root), "TRAIN_STEPS": "3", "TRAIN_BATCH_SIZE": "8",
        "TRAIN_UNLABELED_BATCH": "0", "DEVICE": "cpu",
    }
    server = start_backend(env, work / "backend.log")
    from label_studio_sdk import LabelStudio

    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    yield client, server.url, Settings.from_env(env), data, server.log
    server.stop()
