#!/usr/bin/env python
"""Load test: concurrent /predict clients against gunicorn on 127.0.0.1 while a training run is in progress.

Starts the backend (WORKERS workers) on the default dataset and model (made as in quickstart.sh when
missing), records click annotations through /webhook so that a long training run starts, then:
  1. baseline: one client, no training, --baseline-seconds;
  2. load: --clients concurrent clients for --seconds while the run trains.
Each request asks for one task, as Label Studio does when an annotator opens a task. Prints JSON
(p50/p95/p99 latency, requests/s, errors, whether training ran throughout, the ratios of p50 and of
requests/s under load to the baseline's) and writes OUT/load.json and OUT/load.png. The training run is stopped at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: local servers of a checkout

import backend  # noqa: E402,F401
from backend.evaluation.annotators import click_event  # noqa: E402
from backend.evaluation.dataset import load_dataset  # noqa: E402
from backend.labelstudio.templates import render_template  # noqa: E402
from backend.service.scheduler import TrainingScheduler  # noqa: E402
from backend.settings import Settings  # noqa: E402
from tests.support.backend_server import ROOT, start_backend  # noqa: E402
from tests.support.demo_stack import prepare_data  # noqa: E402

PROJECT = 1


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


class Clients:
    """``count`` threads posting /predict until ``stop`` is set; each records (start offset, seconds, status)."""

    def __init__(self, url: str, xml: str, images: list[str], count: int):
        self.url, self.xml, self.images, self.count = url, xml, images, count
        self.records: list[tuple[float, float, int]] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def _client(self, index: int, started: float) -> None:
        session = requests.Session()
        n = index
        while not self.stop.is_set():
            task = {"id": n, "data": {"image": self.images[n % len(self.images)]}}
            begin = time.perf_counter()
            try:
                response = session.post(f"{self.url}/predict", json={"tasks": [task], "project": PROJECT, "label_config": self.xml},
                                        timeout=120)
                status = response.status_code
                ok = status == 200 and bool(response.json()["results"][0]["result"])
                error = "" if ok else f"HTTP {status}: {response.text[:200]}"
            except (requests.RequestException, ValueError, KeyError, IndexError) as exc:
                status, error = 0, f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - begin
            with self._lock:
                self.records.append((begin - started, elapsed, status))
                if error:
                    self.errors.append(error)
            n += self.count

    def run(self, seconds: float, label: str) -> dict:
        started = time.perf_counter()
        threads = [threading.Thread(target=self._client, args=(i, started), daemon=True) for i in range(self.count)]
        for thread in threads:
            thread.start()
        for _ in tqdm(range(int(seconds)), desc=f"{label}: {self.count} client(s)", unit="s"):
            time.sleep(1)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=180)
        latencies = [seconds_ for _, seconds_, _ in self.records]
        return {
            "clients": self.count, "seconds": seconds, "requests": len(self.records), "errors": len(self.errors),
            "error_samples": self.errors[:5], "requests_per_s": round(len(self.records) / seconds, 2),
            "p50_ms": round(1000 * _percentile(latencies, 50), 1), "p95_ms": round(1000 * _percentile(latencies, 95), 1),
            "p99_ms": round(1000 * _percentile(latencies, 99), 1), "max_ms": round(1000 * max(latencies, default=float("nan")), 1),
        }


def _start_training(url: str, data_dir: Path, xml: str, annotations: int) -> None:
    """Record simulated click annotations by webhook; the last one starts the run."""
    data = load_dataset(data_dir)
    for index in range(annotations):
        requests.post(f"{url}/webhook", json=click_event(data, xml, index, PROJECT), timeout=60).raise_for_status()


def _plot(path: Path, phases: dict[str, list[tuple[float, float, int]]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, records in phases.items():
        left.scatter([t for t, _, _ in records], [1000 * s for _, s, _ in records], s=4, label=name)
        right.hist([1000 * s for _, s, _ in records], bins=40, alpha=0.6, label=name)
    left.set(xlabel="seconds into the phase", ylabel="/predict latency (ms)", title="latency over time")
    right.set(xlabel="/predict latency (ms)", ylabel="requests", title="latency distribution")
    left.legend()
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/default")
    parser.add_argument("--model", default="models/default-base.pt")
    parser.add_argument("--out", default="out/load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--annotations", type=int, default=20, help="click annotations recorded before the load phase")
    parser.add_argument("--train-steps", type=int, default=100_000, help="long enough to outlast the load phase")
    args = parser.parse_args()
    data_dir, model = (ROOT / args.data).resolve(), (ROOT / args.model).resolve()
    out = (ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    prepare_data(data_dir, model)
    models_dir = out / "models"
    subprocess.run(["rm", "-rf", str(models_dir)], check=True)
    env = {"WORKERS": str(args.workers), "THREADS": "4", "MODEL_PATH": str(model), "MODEL_DIR": str(models_dir),
           "LOCAL_FILES_DOCUMENT_ROOT": str(data_dir), "PRETRAINED_WEIGHTS": "none", "DEVICE": "cpu",
           "TRAIN_STEPS": str(args.train_steps), "TRAIN_EVERY": str(args.annotations), "LOG_LEVEL": "warning"}
    xml = render_template("combined", [c for c in (data_dir / "classes.txt").read_text().splitlines() if c])
    images = [f"/data/local-files/?d={p.relative_to(data_dir)}" for p in sorted((data_dir / "images" / "test").glob("*.png"))]
    scheduler = TrainingScheduler(Settings.from_env(env))
    server = start_backend(env, out / "backend.log")
    try:
        warm = Clients(server.url, xml, images, args.workers * 2)
        warm.run(3, "warm-up")  # every worker loads its model
        baseline = Clients(server.url, xml, images, 1)
        baseline_summary = baseline.run(args.baseline_seconds, "baseline, no training")
        _start_training(server.url, data_dir, xml, args.annotations)
        deadline = time.time() + 60
        while not scheduler.is_running(PROJECT) and time.time() < deadline:
            time.sleep(0.2)
        training_at_start = scheduler.is_running(PROJECT)
        load = Clients(server.url, xml, images, args.clients)
        load_summary = load.run(args.seconds, "load, training in progress")
        training_at_end = scheduler.is_running(PROJECT)
        pid = scheduler.status(PROJECT).get("pid")
        if pid and training_at_end:
            os.kill(pid, signal.SIGTERM)  # the run was only there to load the machine
    finally:
        server.stop()
    result = {
        "workers": args.workers, "cpus": os.cpu_count(), "baseline": baseline_summary, "load": load_summary,
        "training_in_progress": {"at_start": training_at_start, "at_end": training_at_end},
        "p50_ratio_load_to_baseline": round(load_summary["p50_ms"] / baseline_summary["p50_ms"], 2),
        "throughput_ratio_load_to_baseline": round(load_summary["requests_per_s"] / baseline_summary["requests_per_s"], 2),
    }
    (out / "load.json").write_text(json.dumps(result, indent=2))
    _plot(out / "load.png", {"baseline (1 client)": baseline.records, f"load ({args.clients} clients, training)": load.records})
    print(json.dumps(result, indent=2))
    if load_summary["errors"] or baseline_summary["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
