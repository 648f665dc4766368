import csv
import shutil

import pytest

from backend.evaluation.dataset import DatasetError, load_dataset


def test_a_dataset_loads_with_labels_masks_and_boxes(dataset):
    assert dataset.classes == ("horizontal", "vertical")
    sample = dataset.splits["train"][0]
    assert sample.mask is not None and sample.mask.is_file() and sample.box is not None
    assert dataset.labels("train").tolist()[:4] == [0, 1, 0, 1]
    assert dataset.images("test")[0].shape == (64, 64, 3)


def test_loader_reports_every_bad_row(dataset, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(dataset.root, root)
    rows = list(csv.reader(open(root / "train.csv")))
    rows[1][0] = "images/train/missing.png"
    rows[2][1] = "giraffe"
    rows[3][5] = "999"  # y_min beyond the image
    rows[4][2] = "masks/none.png"
    with open(root / "train.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    (root / "test.csv").unlink()
    with pytest.raises(DatasetError) as info:
        load_dataset(root)
    message = str(info.value)
    for expected in ("line 2: image file not found", "line 3: unknown label 'giraffe'", "line 4: box", "line 5: mask file not found", "test.csv not found"):
        assert expected in message
    assert "5 problem(s)" in message
