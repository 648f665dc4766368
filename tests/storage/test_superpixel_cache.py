import numpy as np

from backend.core.superpixels import SuperpixelParams, compute_superpixels
from backend.storage import superpixel_cache
from backend.storage.superpixel_cache import SuperpixelCache


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _counting(monkeypatch) -> list[int]:
    calls: list[int] = []

    def counted(pixels, params):
        calls.append(1)
        return compute_superpixels(pixels, params)

    monkeypatch.setattr(superpixel_cache, "compute_superpixels", counted)
    return calls


def test_an_image_is_segmented_once_and_a_changed_image_or_setting_again(tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    cache, params = SuperpixelCache(tmp_path / "sp", 1 << 20), SuperpixelParams(segments=16, work_size=32)
    first = cache.segments(_image(0), params)
    again = SuperpixelCache(tmp_path / "sp", 1 << 20).segments(_image(0), params)  # another process, same folder
    assert len(calls) == 1 and np.array_equal(first.labels, again.labels)
    assert np.array_equal(first.labels, compute_superpixels(_image(0), params).labels)
    cache.segments(_image(1), params)
    cache.segments(_image(0), SuperpixelParams(segments=32, work_size=32))
    assert len(calls) == 3


def test_a_damaged_entry_is_segmented_again(tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    cache, params = SuperpixelCache(tmp_path / "sp", 1 << 20), SuperpixelParams(segments=16, work_size=32)
    expected = cache.segments(_image(0), params).labels
    for entry in (tmp_path / "sp").iterdir():
        entry.write_bytes(b"not a segmentation")
    assert np.array_equal(cache.segments(_image(0), params).labels, expected) and len(calls) == 2
    assert np.array_equal(cache.segments(_image(0), params).labels, expected) and len(calls) == 2  # rewritten


def test_a_cache_of_no_bytes_keeps_nothing(tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    cache = SuperpixelCache(tmp_path / "sp", 0)
    cache.segments(_image(0), SuperpixelParams())
    cache.segments(_image(0), SuperpixelParams())
    assert len(calls) == 2 and not (tmp_path / "sp").exists()
