"""Benchmark /predict on camera-sized JPEGs against its floor, measured in the same run.

For each image size (224 px, about 1 MP and 12 MP) and architecture: the floor is a plain JPEG decode of that
file plus one forward of the model at its input size; the full path is one /predict task through the WSGI app
(fetch, decode, CAM or the attention branch's map, superpixels, RLE, JSON); the preview is the answer to an
annotator's ignore click with the smart keypoint tool (decode, superpixels, one outline). Every variant is warmed up and the
variants alternate, so neither carries the warm-up or a burst of load from elsewhere. Prints JSON: ms per task,
floor, ratio, kB per prediction, and the worker's peak memory above its resting size for a batch of 1 and of
``--batch`` tasks, and what of it is still held after the batch.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as photos

import backend  # noqa: F401
from backend.cli import HelpFormatter
from backend.http.server import create_app
from backend.labelstudio.templates import render_template
from backend.models.architectures import build_model
from backend.models.checkpoints import save_checkpoint
from backend.models.inference import to_batch
from backend.settings import Settings
from backend.training.distributed import resolve_device

SIZES = {"224px": (224, 224), "1MP": (1280, 960), "12MP": (4000, 3000)}


def photo(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG: a bundled scikit-image photo scaled to the size, with sensor-like noise, quality 90."""
    source = [photos.astronaut(), photos.chelsea(), photos.coffee()][seed % 3]
    image = np.asarray(Image.fromarray(source).resize((width, height), Image.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(seed).integers(-6, 7, image.shape, dtype=np.int16)
    buffer = io.BytesIO()
    Image.fromarray((image + noise).clip(0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def memory_mb(fn) -> tuple[float, float]:
    """(peak while ``fn`` runs, left after it) of resident memory above the resident memory before it (Linux:
    VmHWM reset)."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss_kb("VmRSS")
    fn()
    return (_rss_kb("VmHWM") - before) / 1024, (_rss_kb("VmRSS") - before) / 1024


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    found = argparse.ArgumentParser(prog="attention-bench-predict", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES), help="image sizes to time")
    found.add_argument("--archs", nargs="+", default=["resnet18", "abn_resnet18"],
                       help="an attention branch network serves its own map A(x), without a backward pass")
    found.add_argument("--image-size", type=int, default=224, help="model input size (px)")
    found.add_argument("--batch", type=int, default=8, help="tasks per request for the memory figure")
    found.add_argument("--repeats", type=int, default=5, help="alternating rounds over the variants; the median counts")
    found.add_argument("--superpixel-cache-mb", type=int, default=Settings.superpixel_cache_mb,
                       help="SUPERPIXEL_CACHE_MB of the served backend; the warm-up fills it, so 0 times a task's "
                            "first analysis (segmentation included) and the default its later ones")
    found.add_argument("--device", default="cpu", help="DEVICE of the served backend and of the floor's forward: cpu, cuda, auto")
    return found


def main() -> None:
    args = parser().parse_args()
    torch.manual_seed(0)
    classes = ["cat", "dog"]
    label_config = render_template("combined", classes)
    device = resolve_device(args.device)
    results: dict = {"image_size": args.image_size, "device": str(device), "torch_threads": torch.get_num_threads(), "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = {}
        for name in args.sizes:
            width, height = SIZES[name]
            for i in range(args.batch):
                (root / f"{name}-{i}.jpg").write_bytes(photo(width, height, i))
            files[name] = root / f"{name}-0.jpg"
        variants = {}
        for arch in args.archs:
            model = build_model(arch, len(classes)).eval()
            save_checkpoint(model, str(root / f"{arch}.pt"), arch, classes, args.image_size, "bench")
            model.to(device)
            settings = Settings(model_dir=str(root / "models" / arch), model_path=str(root / f"{arch}.pt"),
                                local_files_document_root=str(root), image_size=args.image_size,
                                predict_batch_size=args.batch, pretrained_weights="none", device=args.device,
                                superpixel_cache_mb=args.superpixel_cache_mb)
            client = create_app(settings).test_client()
            for name in args.sizes:
                variants[(arch, name)] = (client, model)

        def request(client, name: str, count: int) -> list[dict]:
            tasks = [{"id": i, "data": {"image": f"/data/local-files/?d={name}-{i}.jpg"}} for i in range(count)]
            response = client.post("/predict", json={"tasks": tasks, "project": 1, "label_config": label_config})
            assert response.status_code == 200 and all(r["result"] for r in response.json["results"])
            return response.json["results"]

        def preview(client, name: str) -> None:
            """An annotator's ignore click with the smart keypoint tool: /predict with the click as context."""
            width, height = SIZES[name]
            click = {"id": "k", "from_name": "clicks", "to_name": "image", "type": "keypointlabels", "is_positive": False,
                     "original_width": width, "original_height": height, "image_rotation": 0,
                     "value": {"x": 15.0, "y": 15.0, "width": 0.5, "keypointlabels": ["focus"]}}
            response = client.post("/predict", json={
                "tasks": [{"id": 0, "data": {"image": f"/data/local-files/?d={name}-0.jpg"}}], "project": 1,
                "label_config": label_config, "params": {"context": {"result": [click]}}})
            assert response.status_code == 200 and len(response.json["results"][0]["result"]) == 1

        def floor(model, name: str) -> None:
            with Image.open(files[name]) as image:
                pixels = np.asarray(image.convert("RGB"))
            with torch.no_grad():
                model(to_batch([pixels], args.image_size).to(device))
            if device.type == "cuda":  # the forward has finished, not only been queued
                torch.cuda.synchronize(device)

        timings: dict = {key: {"floor": [], "predict": [], "preview": []} for key in variants}
        for key, (client, model) in variants.items():  # warm-up of every variant
            floor(model, key[1])
            request(client, key[1], 1)
            preview(client, key[1])
        for _ in range(args.repeats):  # alternate the variants
            for key, (client, model) in variants.items():
                for part, fn in (("floor", lambda: floor(model, key[1])), ("predict", lambda: request(client, key[1], 1)),
                                 ("preview", lambda: preview(client, key[1]))):
                    started = time.perf_counter()
                    fn()
                    timings[key][part].append(time.perf_counter() - started)
        for key, (client, model) in variants.items():
            arch, name = key
            floor_ms = 1000 * statistics.median(timings[key]["floor"])
            predict_ms = 1000 * statistics.median(timings[key]["predict"])
            prediction = request(client, name, 1)[0]
            single, _ = memory_mb(lambda: request(client, name, 1))
            batch, left = memory_mb(lambda: request(client, name, args.batch))
            results["sizes"].setdefault(name, {})[arch] = {
                "jpeg_kB": round(files[name].stat().st_size / 1024, 1),
                "floor_decode_forward_ms": round(floor_ms, 1),
                "predict_ms_per_task": round(predict_ms, 1),
                "ratio": round(predict_ms / floor_ms, 3),
                "ignore_click_preview_ms": round(1000 * statistics.median(timings[key]["preview"]), 1),
                "prediction_kB": round(len(json.dumps(prediction)) / 1024, 1),
                "peak_memory_MB_1_task": round(single, 1),
                f"peak_memory_MB_{args.batch}_tasks": round(batch, 1),
                f"memory_left_MB_after_{args.batch}_tasks": round(left, 1),
            }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
