"""Bytes on disk by key, bounded, shared by the backend's processes: downloaded task images (keyed by URL), so
``/predict``, scoring and training fetch each image once, and the superpixels of each image. Past ``max_bytes`` the
least recently used files leave."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

RECOUNT_EVERY = 256  # writes between recounts of the folder (or a tenth of its files), so others' writes are seen


class DiskCache:
    """Bytes by key under ``folder``; reads refresh a file's age, writes are atomic and evict the oldest.

    The folder is counted once and then again only when this process's running total passes the bound or after
    ``RECOUNT_EVERY`` writes or a tenth of the files counted, whichever is more: counting it at every write made
    filling a cache of N files cost N^2 file checks, this costs about 10 N."""

    def __init__(self, folder: str | os.PathLike[str], max_bytes: int):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._total: int | None = None  # bytes in the folder as this process last counted them, plus its writes
        self._writes = 0  # since that count
        self._files = 0  # at that count

    def _path(self, key: str) -> Path:
        return self.folder / hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
            os.utime(path)  # recently used: the last to leave
        except OSError:
            return None
        return data

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` for ``key`` unless it alone exceeds the bound; a full disk only skips the cache."""
        if len(data) > self.max_bytes:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self._path(key))
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
            return
        self._writes += 1
        if self._total is not None and self._writes < max(RECOUNT_EVERY, self._files // 10):
            self._total += len(data)
            if self._total <= self.max_bytes:
                return
        self._total, self._files, self._writes = *self._evict(), 0

    def _evict(self) -> tuple[int, int]:
        """Remove the least recently used files until the folder is within the bound; the bytes and files left."""
        entries = []
        for path in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if not path.name.startswith("."):
                    stat = path.stat()
                    entries.append((stat.st_mtime_ns, stat.st_size, path))
        total, left = sum(size for _, size, _ in entries), len(entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total, left = total - size, left - 1
        return total, left
