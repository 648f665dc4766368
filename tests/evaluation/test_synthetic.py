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
    assert set(small.splits) == {"train", "val", "test", "shifted", "train_unbiased"}
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


@pytest.mark.parametrize("cue", ["texture", "companion"])
def test_new_kinds_tie_the_background_to_the_class_and_flip_it_when_shifted(tmp_path, cue, monkeypatch):
    from backend.evaluation import synthetic

    drawn = []
    texture, companion = synthetic._texture, synthetic._companion
    monkeypatch.setattr(synthetic, "_texture", lambda rng, name, n: drawn.append(name) or texture(rng, name, n))
    monkeypatch.setattr(synthetic, "_companion", lambda rng, shape, *a: drawn.append(shape) or companion(rng, shape, *a))
    data = load_dataset(write_dataset(tmp_path / cue, BiasSpec(size=48, train=40, val=2, test=20, shifted=20, cue=cue)))
    families = synthetic.TEXTURE_FAMILIES if cue == "texture" else [(shape,) for shape in synthetic.COMPANIONS]
    per_split = {"train": drawn[:40], "shifted": drawn[62:82], "train_unbiased": drawn[82:]}
    for split, shift in (("train", 0), ("shifted", 1)):
        labels = data.labels(split)
        assert all(name in families[(label + shift) % 2] for name, label in zip(per_split[split], labels))
    unbiased = [name in families[label] for name, label in zip(per_split["train_unbiased"], data.labels("train_unbiased"))]
    assert 0.2 < np.mean(unbiased) < 0.8  # the cue-free split: the cue is drawn at random
    assert set(data.splits) == {"train", "val", "test", "shifted", "train_unbiased"}
    assert len(data.splits["train_unbiased"]) == 40
    for sample in data.splits["test"][:4]:  # the object mask holds the object only
        mask = np.asarray(Image.open(sample.mask)) > 0
        assert 0.05 < mask.mean() < 0.4


def test_companions_touch_the_object_outside_its_mask():
    from scipy.ndimage import binary_dilation

    from backend.evaluation.synthetic import COMPANIONS, _companion

    yy, xx = np.mgrid[0:64, 0:64]
    mask = ((yy - 32) / 12) ** 2 + ((xx - 30) / 10) ** 2 <= 1
    for seed, shape in enumerate(COMPANIONS):
        region = _companion(np.random.default_rng(seed), shape, 64, mask, (32.0, 30.0), (12.0, 10.0))
        assert region.sum() > 20 and not (region & mask).any()
        assert (binary_dilation(mask, iterations=4) & region).any()  # it touches the object


def test_every_kind_accepts_a_bias_below_one(tmp_path):
    for cue in ("patch", "background", "texture", "companion"):
        write_dataset(tmp_path / cue, BiasSpec(size=32, train=8, val=1, test=1, shifted=1, cue=cue, bias=0.7))
    with pytest.raises(ValueError, match="bias"):
        write_dataset(tmp_path / "bad", BiasSpec(bias=1.5))


def test_the_unbiased_split_does_not_change_the_others(tmp_path):
    a = write_dataset(tmp_path / "a", BiasSpec(size=32, train=6, val=1, test=2, shifted=2, train_unbiased=0))
    b = write_dataset(tmp_path / "b", BiasSpec(size=32, train=6, val=1, test=2, shifted=2, train_unbiased=5))
    for name in ("00000", "00005"):
        assert (a / "images/train" / f"{name}.png").read_bytes() == (b / "images/train" / f"{name}.png").read_bytes()
    assert len(load_dataset(b).splits["train_unbiased"]) == 5


def _drawn(cue, label, cue_class, seed=0, size=64):
    from backend.evaluation.synthetic import draw_sample

    return draw_sample(np.random.default_rng(seed), BiasSpec(size=size, cue=cue), label, cue_class)


def test_a_cast_tints_only_the_objects_surroundings():
    from scipy.ndimage import binary_dilation

    for cue_class in (0, 1):
        image, mask, _ = _drawn("cast", 0, cue_class)
        halo = binary_dilation(mask, iterations=3) & ~mask
        far = ~binary_dilation(mask, iterations=20)
        colour = PALETTE[cue_class]
        distance = lambda where: np.abs(image[where].astype(float) - colour).sum(1).mean()  # noqa: E731
        assert distance(halo) + 40 < distance(far)  # nearer the cue colour beside the object than far from it


def test_a_logo_sits_on_a_corner_of_the_box_outside_the_object_and_differs_by_class():
    from backend.evaluation.synthetic import GLYPHS, _glyph

    assert len({g for g in GLYPHS}) == len(GLYPHS)
    yy, xx = np.mgrid[0:64, 0:64]
    mask = ((yy - 32) / 12) ** 2 + ((xx - 30) / 10) ** 2 <= 1
    box = (20, 20, 41, 45)
    shapes = set()
    for k, glyph in enumerate(GLYPHS):
        region = _glyph(np.random.default_rng(k), glyph, 64, mask, box)
        rows, cols = np.nonzero(region)
        assert region.sum() >= 6 and not (region & mask).any()
        corners = [(y, x) for y in (box[1], box[3]) for x in (box[0], box[2])]
        assert min(abs(rows.mean() - y) + abs(cols.mean() - x) for y, x in corners) < 8  # on a corner of the box
        shapes.add(region[rows.min():rows.max() + 1, cols.min():cols.max() + 1].tobytes())
    assert len(shapes) == len(GLYPHS)


def test_scale_ties_the_objects_size_to_the_cue_class():
    small = [_drawn("scale", 0, 0, seed)[1].sum() for seed in range(8)]
    large = [_drawn("scale", 0, 1, seed)[1].sum() for seed in range(8)]
    assert max(small) < min(large)


@pytest.mark.parametrize("cue", ["cast", "logo", "scale"])
def test_the_held_out_kinds_write_datasets_with_their_masks(tmp_path, cue):
    data = load_dataset(write_dataset(tmp_path / cue, BiasSpec(size=48, train=6, val=1, test=2, shifted=2, cue=cue, bias=0.97)))
    for sample in data.splits["train"]:
        mask = np.asarray(Image.open(sample.mask)) > 0
        assert 0.02 < mask.mean() < 0.5


@pytest.mark.parametrize("cue", ["patch", "background", "texture", "companion", "cast", "logo", "scale"])
def test_the_cue_pixels_are_recorded_where_the_cue_is_drawn(cue):
    from backend.evaluation.synthetic import draw_sample, draw_sample_with_cue

    spec = BiasSpec(size=64, cue=cue)
    image, mask, box, pixels = draw_sample_with_cue(np.random.default_rng(3), spec, 0, 1)
    again = draw_sample(np.random.default_rng(3), spec, 0, 1)
    assert np.array_equal(image, again[0]) and box == again[2]  # the same draw, plus its cue
    assert pixels.any()
    if cue == "scale":
        assert np.array_equal(pixels, mask)  # the cue lives in the object
    else:
        assert not (pixels & mask).any()
    if cue in ("background", "texture"):
        assert np.array_equal(pixels, ~mask)


def test_the_csv_records_each_image_s_cue_class_and_mask(tmp_path):
    import csv

    folder = write_dataset(tmp_path, BiasSpec(size=32, train=20, val=4, test=4, shifted=4, bias=0.5, seed=1))
    with open(folder / "shifted.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(r["cue"] != r["label"] for r in rows)  # the shifted split reverses the cue
    assert all((folder / r["cue_mask"]).is_file() for r in rows)
    with open(folder / "train.csv", newline="") as handle:
        train = list(csv.DictReader(handle))
    assert 0 < sum(r["cue"] != r["label"] for r in train) < len(train)  # bias 0.5: some contradict the cue
