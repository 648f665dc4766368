"""Downloaded task images on disk, keyed by their URL, so ``/predict``, scoring and training (separate processes)
fetch each image from Label Studio or cloud storage once. Bounded: past ``max_bytes`` the least recently used
files leave."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


class ImageCache:
    """Bytes by URL under ``folder``; reads refresh a file's age, writes are atomic and evict the oldest."""

    def __init__(self, folder: str | os.PathLike[str], max_bytes: int):
        self.folder = Path(folder)
        self.max_bytes = max_bytes

    def _path(self, url: str) -> Path:
        return self.folder / hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, url: str) -> bytes | None:
        path = self._path(url)
        try:
            data = path.read_bytes()
            os.utime(path)  # recently used: the last to leave
        except OSError:
            return None
        return data

    def put(self, url: str, data: bytes) -> None:
        """Keep ``data`` for ``url`` unless it alone exceeds the bound; a full disk only skips the cache."""
        if len(data) > self.max_bytes:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self._path(url))
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
            return
        self._evict()

    def _evict(self) -> None:
        entries = []
        for path in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if not path.name.startswith("."):
                    stat = path.stat()
                    entries.append((stat.st_mtime_ns, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size
