import numpy as np
import pytest
from PIL import Image

from backend.evaluation.dataset import load_dataset
from backend.evaluation.synthetic import PALETTE, BiasSpec, write_dataset


def _has_colour(path, colour) -> bool:
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return bool((np.abs(image - np.asarray(colour, dtype=int)).sum(axis=2) == 0).sum() >= 9)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return load_dataset(write_dataset(tmp_path_factory.mktemp("gen"), BiasSpec(size=48, classes=3, train=30, val=3, test=6, shifted=6)))


def test_layout_masks_and_boxes(small):
    assert small.classes == ("angle_0", "angle_60", "angle_120")
    assert set(small.splits) == {"train", "val", "test", "shifted"}
    for sample in small.splits["train"]:
        mask = np.asarray(Image.open(sample.mask)) > 0
        rows, cols = np.nonzero(mask)
        assert sample.box == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)


def test_cue_matches_the_class_in_train_and_the_next_class_in_shifted(small):
    for split, shift in (("train", 0), ("test", 0), ("shifted", 1)):
        for sample in small.splits[split]:
            assert _has_colour(sample.image, PALETTE[(sample.label + shift) % 3]), (split, sample.image)


def test_bias_fraction_and_background_cue(tmp_path):
    data = load_dataset(write_dataset(tmp_path / "half", BiasSpec(size=32, train=200, test=2, shifted=2, val=2, bias=0.5, seed=3)))
    matching = np.mean([_has_colour(s.image, PALETTE[s.label]) for s in data.splits["train"]])
    assert 0.65 < matching < 0.85  # half by design, plus random cues that happen to match
    tinted = load_dataset(write_dataset(tmp_path / "tint", BiasSpec(size=32, train=40, test=2, shifted=2, val=2, cue="background")))
    red = [np.asarray(Image.open(s.image))[..., 0].mean() - np.asarray(Image.open(s.image))[..., 2].mean() for s in tinted.splits["train"]]
    labels = tinted.labels("train")
    assert np.mean(np.array(red)[labels == 0]) > np.mean(np.array(red)[labels == 1]) + 20  # class 0 red, class 1 blue
    with pytest.raises(ValueError, match="cue"):
        write_dataset(tmp_path / "bad", BiasSpec(cue="sound"))
