#!/usr/bin/env python
"""Ask a running backend for predictions on a few test images of a dataset folder and summarise them."""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import requests

from backend.labelstudio.templates import render_template

SHIFTED_NOTE = ("mostly wrong: these are shifted images, where the cue that went with each class in training (the "
                "default dataset's coloured patch) is swapped. A model that learned the cue instead of the object "
                "(the base model: shifted accuracy near 0) predicts the other class; that is the shortcut annotators "
                "correct by showing the model the object")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:9090")
    parser.add_argument("--data", required=True, help="dataset folder (served as LOCAL_FILES_DOCUMENT_ROOT)")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--split", default="shifted")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for /health")
    args = parser.parse_args()
    data = Path(args.data)
    classes = [c for c in (data / "classes.txt").read_text().splitlines() if c]
    with open(data / f"{args.split}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))[: args.tasks]
    deadline = time.time() + args.wait
    while True:
        try:
            if requests.get(f"{args.url}/health", timeout=5).ok:
                break
        except requests.RequestException:
            pass
        if time.time() > deadline:
            raise SystemExit(f"backend at {args.url} did not answer /health within {args.wait} s")
        time.sleep(0.5)
    tasks = [{"id": i, "data": {"image": f"/data/local-files/?d={row['image']}"}} for i, row in enumerate(rows)]
    response = requests.post(
        f"{args.url}/predict",
        json={"tasks": tasks, "project": 1, "label_config": render_template("combined", classes)},
        timeout=300,
    )
    response.raise_for_status()
    body = response.json()
    summary = []
    for row, prediction in zip(rows, body["results"]):
        regions = prediction["result"]
        guess = next((r["value"]["choices"][0] for r in regions if r["type"] == "choices"), None)
        summary.append({
            "image": row["image"],
            "true": row["label"],
            "predicted": guess,
            "correct": guess == row["label"],
            "score": round(prediction["score"], 3),
            "heat_regions": sum(1 for r in regions if r["value"].get("polygonlabels") == ["Attention"]),
            "ignore_regions": sum(1 for r in regions if r["value"].get("polygonlabels") == ["Ignore"]),
        })
    report = {"model_version": body["model_version"], "predictions": summary}
    if args.split == "shifted":
        report["expected"] = SHIFTED_NOTE
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
