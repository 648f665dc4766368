#!/usr/bin/env python
"""Benchmark /predict against its floor, the bare model forward + backward, on the same images.

Prints JSON: per batch size, the floor (ms per image), the full /predict path (ms per
task: image decode, CAM, superpixels, RLE, JSON) and their ratio.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import backend  # noqa: F401
from backend.evaluation.synthetic import BiasSpec, draw_sample
from backend.http.server import create_app
from backend.labelstudio.templates import render_template
from backend.models.architectures import build_model
from backend.models.checkpoints import save_checkpoint
from backend.models.inference import to_batch
from backend.settings import Settings


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=224, help="image and model input size (px)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--archs", nargs="+", default=["resnet18", "abn_resnet18"],
                        help="architectures; an attention branch network serves its own map A(x), without a backward pass")
    args = parser.parse_args()
    torch.manual_seed(0)
    classes = ["horizontal", "vertical"]
    spec = BiasSpec(size=args.size)
    rng = np.random.default_rng(0)
    largest = max(args.batch_sizes)
    results = {"size": args.size, "torch_threads": torch.get_num_threads(), "archs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = []
        for i in range(largest):
            image, _, _ = draw_sample(rng, spec, i % 2, i % 2)
            Image.fromarray(image).save(root / f"{i}.png")
            images.append(image)
        label_config = render_template("combined", classes)
        for arch in args.archs:
            model = build_model(arch, len(classes))
            save_checkpoint(model, str(root / f"{arch}.pt"), arch, classes, args.size, "bench")
            settings = Settings(
                model_dir=str(root / "models" / arch), model_path=str(root / f"{arch}.pt"), local_files_document_root=str(root),
                image_size=args.size, predict_batch_size=largest, pretrained_weights="none", device="cpu",
            )
            client = create_app(settings).test_client()
            train_model = build_model(arch, len(classes)).eval()
            batches = results["archs"].setdefault(arch, {})
            for batch in args.batch_sizes:
                inputs = to_batch(images[:batch], args.size)

                def floor() -> None:
                    train_model.zero_grad(set_to_none=True)
                    train_model(inputs).sum().backward()

                tasks = [{"id": i, "data": {"image": f"/data/local-files/?d={i}.png"}} for i in range(batch)]

                def full() -> None:
                    response = client.post("/predict", json={"tasks": tasks, "project": 1, "label_config": label_config})
                    assert response.status_code == 200 and all(r["result"] for r in response.json["results"])

                floor_ms = 1000 * _median_time(floor, args.repeats) / batch
                full_ms = 1000 * _median_time(full, args.repeats) / batch
                batches[str(batch)] = {
                    "floor_forward_backward_ms_per_image": round(floor_ms, 2),
                    "predict_ms_per_task": round(full_ms, 2),
                    "ratio": round(full_ms / floor_ms, 3),
                }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
