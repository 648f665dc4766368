"""``scripts/train_base_model.py`` as a user runs it: from ImageNet weights in the torch hub cache, streaming the
dataset, with a validation curve beside the checkpoint."""
import json
import subprocess
import sys
from pathlib import Path

import torch

from backend.models.architectures import build_model
from backend.models.checkpoints import read_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _run(dataset_dir, out, env, *extra):
    return subprocess.run([sys.executable, "scripts/train_base_model.py", "--data", str(dataset_dir), "--out", str(out),
                           "--arch", "resnet18", "--image-size", "32", "--epochs", "1", "--workers", "0", "--no-progress",
                           *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_training_starts_from_cached_imagenet_weights_and_writes_the_curve(dataset_dir, tmp_path):
    import os

    env = dict(os.environ, TORCH_HOME=str(tmp_path / "torch"))
    missing = _run(dataset_dir, tmp_path / "none.pt", env, "--pretrained", "cache")
    assert missing.returncode != 0 and "no ImageNet weights" in missing.stderr
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    imagenet = build_model("resnet18", 1000, seed=7)
    torch.save(imagenet.state_dict(), cached)
    out = tmp_path / "base.pt"
    done = _run(dataset_dir, out, env, "--pretrained", "cache", "--lr", "1e-9")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["start"] == "imagenet" and set(report["accuracy"]) <= {"test", "shifted"}
    state = read_checkpoint(out)["state_dict"]
    assert torch.allclose(state["conv1.weight"], imagenet.conv1.weight, atol=1e-4)  # the backbone came from ImageNet
    assert state["fc.weight"].shape[0] == 2
    curve = json.loads(out.with_suffix(".curve.json").read_text())
    assert len(curve["validation_accuracy"]) == 1 and out.with_suffix(".curve.png").stat().st_size > 1000
    assert "epoch 1/1" in done.stderr  # progress is logged per epoch
