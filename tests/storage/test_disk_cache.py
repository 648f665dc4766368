import os
import time

from backend.storage.disk_cache import DiskCache


def test_images_come_back_by_url_and_the_least_recently_used_leave_first(tmp_path):
    cache = DiskCache(tmp_path / "images", max_bytes=250)
    cache.put("s3://bucket/a.jpg", b"a" * 100)
    cache.put("/data/upload/1/b.png", b"b" * 100)
    assert cache.get("s3://bucket/a.jpg") == b"a" * 100 and cache.get("s3://bucket/missing.jpg") is None
    old = time.time() - 100
    os.utime(cache._path("/data/upload/1/b.png"), (old, old))  # b was used longer ago than a
    cache.put("gs://bucket/c.jpg", b"c" * 100)  # 300 bytes > 250: the least recently used leaves
    assert cache.get("/data/upload/1/b.png") is None
    assert cache.get("s3://bucket/a.jpg") == b"a" * 100 and cache.get("gs://bucket/c.jpg") == b"c" * 100
    cache.put("s3://bucket/huge.jpg", b"h" * 1000)  # larger than the whole cache: not kept, nothing evicted for it
    assert cache.get("s3://bucket/huge.jpg") is None and cache.get("s3://bucket/a.jpg") is not None
    assert sum(p.stat().st_size for p in (tmp_path / "images").iterdir()) <= 250


def test_a_cache_that_cannot_be_written_only_skips_caching(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = DiskCache(blocker / "images", max_bytes=1000)
    cache.put("s3://bucket/a.jpg", b"a")
    assert cache.get("s3://bucket/a.jpg") is None


def test_filling_the_cache_counts_its_folder_once_until_the_bound_is_reached(tmp_path, monkeypatch):
    cache = DiskCache(tmp_path / "images", max_bytes=1000)
    counted = []
    evict = cache._evict
    monkeypatch.setattr(cache, "_evict", lambda: counted.append(1) or evict())
    for i in range(9):
        cache.put(f"s3://bucket/{i}.jpg", b"x" * 100)
    assert len(counted) == 1  # 900 bytes: counted at the first write only
    cache.put("s3://bucket/9.jpg", b"x" * 100)
    cache.put("s3://bucket/10.jpg", b"x" * 100)  # 1,100 bytes by this process's count: the folder is counted again
    assert len(counted) == 2 and sum(p.stat().st_size for p in (tmp_path / "images").iterdir()) <= 1000
