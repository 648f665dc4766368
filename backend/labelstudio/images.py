"""Fetch and decode task images: local paths, Label Studio URLs, cloud storage through Label Studio's presign
endpoint, and allowed http(s) hosts; downloads are kept in a bounded cache shared by the backend's processes.

Every image is read with Pillow into an RGB uint8 array (the first frame of an
animation, EXIF rotation applied), reduced to what the model and the superpixels
need. Images over ``max_pixels``, ``max_side`` or ``max_bytes`` are refused before
they are decoded.
"""
from __future__ import annotations

import base64
import io
import posixpath
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import ParseResult, parse_qs, unquote, urljoin, urlparse

import certifi
import numpy as np
import requests
import urllib3
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from backend.core.superpixels import SuperpixelParams
from backend.labelstudio.addresses import is_public
from backend.labelstudio.auth import AuthError, LabelStudioAuth
from backend.storage.disk_cache import DiskCache

LS_PATH_PREFIXES = ("/data/upload/", "/data/local-files/", "/storage-data/uploaded/", "/tasks/")  # Label Studio's media
MEDIA_PREFIXES = LS_PATH_PREFIXES[:3]  # the token goes to these paths and to a task's presign endpoint, nowhere else
CLOUD_SCHEMES = ("s3", "gs", "azure-blob")  # Label Studio's cloud storage URIs, presigned per task
SCHEMES = ("", "file", "http", "https", *CLOUD_SCHEMES)
PRESIGN_PATH = "/tasks/{task}/presign/?fileuri={uri}"
REDIRECTS = (301, 302, 303, 307, 308)
TOO_MANY = 429
RATE_LIMIT_RETRIES = 3  # 429s from Label Studio asked again after its Retry-After (or 0.5, 1, 2 s), within IMAGE_TIMEOUT
MAX_URL_LENGTH = 4096
MAX_IMAGE_PIXELS = 50_000_000  # default limit on decoded pixels of an image and of an annotation's brush region
MAX_IMAGE_SIDE = 20_000  # default limit on an image's longer side (thin strips cost memory per row when resized)


class ImageError(ValueError):
    """A task's image cannot be read; the message says why (never with a token)."""


class DeadlineExceeded(Exception):
    """A download ran past IMAGE_TIMEOUT in total."""


class HostBackoff:
    """Hosts that timed out ``strikes`` times in a row are not asked again for ``pause`` seconds, so a server that
    accepts and never answers costs one time-out per pause instead of one per task."""

    def __init__(self, strikes: int = 2, pause: float = 60.0):
        self.strikes, self.pause = strikes, pause
        self._timeouts: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, host: str) -> None:
        with self._lock:
            left = self._until.get(host, 0.0) - time.monotonic()
        if left > 0:
            raise ImageError(f"image host '{host}' timed out repeatedly; not asked again for {left:.0f} s")

    def timed_out(self, host: str) -> None:
        with self._lock:
            self._timeouts[host] = self._timeouts.get(host, 0) + 1
            if self._timeouts[host] >= self.strikes:
                self._until[host] = time.monotonic() + self.pause
                self._timeouts[host] = 0

    def answered(self, host: str) -> None:
        with self._lock:
            self._timeouts.pop(host, None)
            self._until.pop(host, None)


SLOW_HOSTS = HostBackoff()  # per worker process, shared by every project's fetcher


def public_address(host: str, public_only: bool = True) -> str:
    """The address ``host`` resolves to, resolved once; ImageError unless every address it has is public (the
    connection then goes to this address, so a second lookup cannot rebind the name to a private one).
    ``public_only=False`` for the storage host Label Studio's presign endpoint names (a MinIO on the LAN)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ImageError(f"cannot resolve image host '{host}': {exc.strerror}") from None
    addresses = [info[4][0] for info in infos]
    if not addresses or (public_only and not all(is_public(a) for a in addresses)):
        raise ImageError(f"image host '{host}' resolves to a private address")
    return addresses[0]


@dataclass(frozen=True)
class ImageAccess:
    """Where task images may come from and how large and slow they may be."""

    label_studio_url: str  # /data/upload/... and /data/local-files/... are fetched from here with the token
    api_key: str = field(repr=False)
    document_root: str  # local-files URLs and plain paths are read below this folder directly
    allowed_hosts: tuple[str, ...]  # further http(s) hosts (public addresses only)
    max_pixels: int
    max_bytes: int
    timeout: float  # seconds
    max_side: int = MAX_IMAGE_SIDE
    cache_dir: str = ""  # downloaded images are kept here (shared by the backend's processes); empty: no cache
    cache_bytes: int = 0


class ImageFetcher:
    """Reads images for tasks under the limits and host rules of an :class:`ImageAccess`."""

    def __init__(self, access: ImageAccess, session: requests.Session | None = None, scope: str = ""):
        """``scope``: the project the images are read for; a cached download serves only the scope that fetched
        it, so one project's grant from Label Studio never answers another project's task."""
        self.access = access
        self.scope = scope
        self.session = session or requests.Session()
        self.ls_url = access.label_studio_url.rstrip("/")
        self.ls_scheme = urlparse(self.ls_url).scheme.lower() if self.ls_url else ""
        self.ls_host = urlparse(self.ls_url).netloc.lower() if self.ls_url else ""
        self.auth = LabelStudioAuth(self.ls_url, access.api_key, self.session, access.timeout) if access.api_key else None
        self.cache = DiskCache(access.cache_dir, access.cache_bytes) if access.cache_dir and access.cache_bytes else None

    def load(self, url: str, fit: Fit | None = None, task_id: object = None) -> Picture:
        """The image at ``url`` of task ``task_id`` (needed for cloud storage URIs), reduced to ``fit`` when given."""
        if not isinstance(url, str) or not url.strip():
            raise ImageError("task has no image URL")
        return decode_image(self.read_bytes(url.strip(), task_id), self.access.max_pixels, self.access.max_side, fit)

    def read_bytes(self, url: str, task_id: object = None) -> bytes:
        """The bytes of ``url``: downloads come from the cache when an earlier request (or process) fetched them."""
        parsed = check_reference(url)
        if self.cache is None or not self._downloads(url, parsed):
            return self._read(url, parsed, task_id)
        key = f"{self.scope}\n{url}"
        cached = self.cache.get(key)  # only URLs that passed every rule below were ever put there
        if cached is not None and len(cached) <= self.access.max_bytes:  # limits may have shrunk since
            return cached
        data = self._read(url, parsed, task_id)
        self.cache.put(key, data)
        return data

    def _downloads(self, url: str, parsed: ParseResult) -> bool:
        """Whether ``url`` is read over the network (files below the document root are read directly)."""
        if parsed.scheme in CLOUD_SCHEMES:
            return True
        local_files = parsed.path.startswith("/data/local-files/") and bool(self.access.document_root)
        if parsed.scheme in ("http", "https"):
            return not (local_files and parsed.netloc.lower() == self.ls_host)
        return url.startswith(LS_PATH_PREFIXES) and not local_files

    def _read(self, url: str, parsed: ParseResult, task_id: object) -> bytes:
        if parsed.scheme in CLOUD_SCHEMES:
            return self._presigned(url, task_id)
        if parsed.scheme in ("http", "https"):
            if parsed.path.startswith("/data/local-files/") and self.access.document_root:
                if parsed.netloc.lower() == self.ls_host:
                    return self._local_files(parsed.query)
            return self._http(url, parsed.netloc.lower())
        if url.startswith("/data/local-files/") and self.access.document_root:
            return self._local_files(parsed.query)
        if url.startswith(LS_PATH_PREFIXES):
            if not self.ls_url:
                raise ImageError(f"'{url}' is a Label Studio URL but LABEL_STUDIO_URL is not set")
            return self._http(urljoin(self.ls_url + "/", url.lstrip("/")), self.ls_host)
        return self._local_path(unquote(parsed.path))

    def _presigned(self, uri: str, task_id: object) -> bytes:
        """A cloud storage object through Label Studio's presign endpoint for the task (Label Studio holds the
        storage credentials; it answers with the bytes or one redirect to a signed URL)."""
        if not self.ls_url:
            raise ImageError(f"'{uri.split(':')[0]}://' images come through Label Studio's presign endpoint, but "
                             "LABEL_STUDIO_URL is not set")
        if not isinstance(task_id, int) and not (isinstance(task_id, str) and task_id.isdigit()):
            raise ImageError("a cloud storage image needs its task's id (Label Studio presigns per task)")
        encoded = base64.urlsafe_b64encode(uri.encode()).decode()
        return self._http(self.ls_url + PRESIGN_PATH.format(task=int(task_id), uri=encoded), self.ls_host)

    def _local_files(self, query: str) -> bytes:
        relative = parse_qs(query).get("d", [""])[0]
        if not relative:
            raise ImageError("local-files URL without a 'd' parameter")
        return self._local_path(relative)

    def _local_path(self, path: str) -> bytes:
        check_characters(path)
        root = self.access.document_root
        if not root:
            raise ImageError("local image paths are read only below LOCAL_FILES_DOCUMENT_ROOT, which is not set")
        candidate = Path(path) if Path(path).is_absolute() else Path(root) / path
        try:
            resolved = candidate.resolve()
        except (OSError, RuntimeError) as exc:  # symlink loops, names too long
            raise ImageError(f"image path cannot be resolved: {type(exc).__name__}") from None
        if not resolved.is_relative_to(Path(root).resolve()):
            raise ImageError(f"image path '{path}' is outside LOCAL_FILES_DOCUMENT_ROOT")
        try:
            if not resolved.is_file():
                raise ImageError(f"image file not found: '{path}'")
            if resolved.stat().st_size > self.access.max_bytes:
                raise ImageError(f"image file '{path}' is larger than MAX_IMAGE_BYTES")
            return resolved.read_bytes()
        except OSError as exc:
            raise ImageError(f"image file cannot be read: {type(exc).__name__}") from None

    def _http(self, url: str, host: str) -> bytes:
        headers = {}
        parsed = urlparse(url)
        hostname = parsed.hostname or ""
        to_label_studio = bool(host) and host == self.ls_host
        if to_label_studio:
            path = posixpath.normpath(unquote(parsed.path))
            if parsed.scheme != self.ls_scheme or not _media(path):
                raise ImageError(f"only Label Studio's media paths over {self.ls_scheme} are fetched from its host, not "
                                 f"{parsed.scheme}://{host}{path[:100]}")
        elif hostname.lower() not in self.access.allowed_hosts:
            raise ImageError(f"image host '{hostname}' is neither the Label Studio host nor in ALLOWED_IMAGE_HOSTS")
        display = url.split("?")[0]
        SLOW_HOSTS.check(host)
        deadline = time.monotonic() + self.access.timeout
        try:
            if to_label_studio:
                if self.auth is not None:
                    try:
                        headers["Authorization"] = self.auth.header(deadline)
                    except AuthError as exc:
                        raise ImageError(str(exc)) from None
                early = (*REDIRECTS, TOO_MANY) if _presigns(parsed.path) else (TOO_MANY,)
                for attempt in range(RATE_LIMIT_RETRIES + 1):  # Label Studio asks for patience: back off, then ask again
                    status, answer, data = self._get(parsed, hostname, headers, deadline, display, early)
                    if status != TOO_MANY:
                        break
                    wait = _retry_after(answer.get("Retry-After"), attempt)
                    if attempt == RATE_LIMIT_RETRIES or time.monotonic() + wait > deadline:
                        raise ImageError(f"Label Studio kept answering {display} with HTTP 429 (too many requests)")
                    time.sleep(wait)
                if status in REDIRECTS:  # the one redirect of a presign answer
                    data = self._signed(urljoin(url, answer.get("Location", "")), deadline, display)
            else:
                data = self._get(parsed, public_address(hostname), {}, deadline, display)[2]
        except urllib3.exceptions.NewConnectionError as exc:  # refused: a subclass of urllib3's time-out, not one
            raise ImageError(f"cannot fetch {display}: {type(exc).__name__}") from None
        except (urllib3.exceptions.TimeoutError, DeadlineExceeded) as exc:
            SLOW_HOSTS.timed_out(host)
            raise ImageError(f"cannot fetch {display} within IMAGE_TIMEOUT ({self.access.timeout:g} s)") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ImageError(f"cannot fetch {display}: {type(exc).__name__}") from None
        SLOW_HOSTS.answered(host)
        return data

    def _signed(self, url: str, deadline: float, display: str) -> bytes:
        """The one redirect of a presign answer, to the storage host: no token, no further redirect, the same
        limits and deadline."""
        target = urlparse(url)
        if target.scheme not in ("http", "https") or not target.hostname or target.username or target.password:
            raise ImageError(f"Label Studio's presign for {display} redirected to an unusable URL")
        address = public_address(target.hostname, public_only=False)
        return self._get(target, address, {}, deadline, display)[2]

    def _get(self, parsed: ParseResult, connect_to: str, headers: dict[str, str], deadline: float, display: str,
             early: tuple[int, ...] = ()) -> tuple[int, dict[str, str], bytes]:
        """(status, answer headers, body) of a GET to ``connect_to`` (the checked address, or Label Studio's host
        name), with the whole exchange, status line and headers included, cut off at ``deadline`` (TLS still verifies
        the host's name). An answer with a status in ``early`` (a redirect to follow, a 429) comes back without its
        body; any other but 200 is an ImageError."""
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        left = max(deadline - time.monotonic(), 1e-3)
        timeout = urllib3.Timeout(connect=left, read=left)
        if parsed.scheme == "https":
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                connect_to, port, timeout=timeout, retries=False, server_hostname=parsed.hostname,
                assert_hostname=parsed.hostname, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
        else:
            pool = urllib3.HTTPConnectionPool(connect_to, port, timeout=timeout, retries=False)
        watchdog = Watchdog(deadline)
        pool.ConnectionCls = watchdog.connection_class(pool.ConnectionCls)
        target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        with pool, watchdog:
            try:
                response = pool.urlopen("GET", target, redirect=False, headers={"Host": parsed.netloc, **headers},
                                        preload_content=False)
                try:
                    if response.status in early:
                        return response.status, dict(response.headers), b""
                    data = self._read_until(response.status, response, deadline, display)
                finally:
                    response.release_conn()
            except (urllib3.exceptions.HTTPError, OSError):
                if watchdog.fired:
                    raise DeadlineExceeded(display) from None
                raise
            if watchdog.fired:  # the socket was shut while the body was read: what came is cut short
                raise DeadlineExceeded(display)
            return response.status, dict(response.headers), data

    def _read_until(self, status: int, body: urllib3.BaseHTTPResponse, deadline: float, display: str) -> bytes:
        """The body, read as it arrives, refused past MAX_IMAGE_BYTES or the deadline (a server sending one byte
        a second never times out a single read)."""
        if status != 200:
            raise ImageError(f"fetching {display} returned HTTP {status}")
        limit = self.access.max_bytes
        chunks, size = [], 0
        while chunk := body.read1(1 << 16, decode_content=True):
            size += len(chunk)
            if size > limit:
                raise ImageError(f"image at {display} is larger than MAX_IMAGE_BYTES ({limit})")
            if time.monotonic() > deadline:
                raise DeadlineExceeded(display)
            chunks.append(chunk)
        return b"".join(chunks)


class Watchdog:
    """Shuts the sockets of one request at its deadline. Socket time-outs bound each read, not their sum: a server
    that sends its status line or headers one byte at a time would otherwise hold a request for as long as it likes."""

    def __init__(self, deadline: float):
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> "Watchdog":
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _shut(sock)

    def connection_class(self, base: type) -> type:
        """``base`` (a urllib3 connection class) whose connected socket this watchdog shuts at the deadline."""
        watchdog = self

        class Watched(base):  # type: ignore[misc, valid-type]
            def connect(self) -> None:
                super().connect()
                watchdog.watch(self.sock)

        return Watched


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _retry_after(header: str | None, attempt: int) -> float:
    """Seconds to wait after a 429: its ``Retry-After`` in seconds (at most 30), else 0.5 s doubling per attempt."""
    try:
        return min(30.0, max(0.0, float(header)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.5 * 2**attempt


def _media(path: str) -> bool:
    """Whether a normalised Label Studio path is one of its media paths or a task's presign endpoint (the only paths
    the token is sent to)."""
    return (path + "/").startswith(MEDIA_PREFIXES) or _presigns(path)


def _presigns(path: str) -> bool:
    """Whether a Label Studio path is its presign (or resolve) endpoint, whose redirect is followed once."""
    parts = posixpath.normpath(unquote(path)).strip("/").split("/")
    return len(parts) == 3 and parts[0] in ("tasks", "projects") and parts[1].isdigit() and parts[2] in ("presign", "resolve")


def check_characters(reference: str) -> None:
    """ImageError for a reference (URL or path) with a NUL byte, a backslash, a control character or thousands of
    characters."""
    if len(reference) > MAX_URL_LENGTH:
        raise ImageError(f"image reference of {len(reference)} characters (at most {MAX_URL_LENGTH})")
    if "\\" in reference or any(ord(c) < 32 or ord(c) == 127 for c in reference):
        raise ImageError("image reference with a NUL byte, a backslash or another control character")


def check_reference(reference: str) -> ParseResult:
    """The parsed reference, or ImageError for one no image can have: NUL bytes, backslashes, control characters,
    thousands of characters (a reference is logged and stored with every annotation), a scheme we do not read, user
    information (``user@host``), a malformed host or port. Webhooks check with this before recording, so a
    reference that fetching would refuse is never recorded."""
    check_characters(reference)
    try:
        parsed = urlparse(reference)
        parsed.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise ImageError(f"malformed image URL: {exc}") from None
    if parsed.scheme.lower() not in SCHEMES:
        raise ImageError(f"unsupported image URL scheme '{parsed.scheme[:20]}'")
    if parsed.username is not None or parsed.password is not None or "@" in parsed.netloc:
        raise ImageError("image URLs with user information (user:password@host) are refused")
    if parsed.scheme.lower() in ("http", "https", *CLOUD_SCHEMES) and not parsed.hostname:
        raise ImageError("image URL without a host")
    return parsed


@dataclass(frozen=True)
class Fit:
    """The smallest image the model and the superpixels need: the short side at least ``short`` px and the long
    side at least ``long`` px (never upscaled); extreme aspect ratios are squeezed to at most ``MAX_ASPECT``."""

    short: int
    long: int

    @classmethod
    def for_model(cls, image_size: int, superpixels: SuperpixelParams) -> "Fit":
        """What a model of input ``image_size`` and segmentation at ``superpixels.work_size`` need, in predict and
        in training alike (both segment the same reduced image, so a click maps to the segment that was shown)."""
        return cls(image_size, superpixels.work_size)

    def shape(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of an image of ``height`` x ``width`` decoded for this fit."""
        scale = min(1.0, max(self.short / min(height, width), self.long / max(height, width)))
        longest = MAX_ASPECT * max(self.short, self.long)
        return (max(1, min(round(height * scale), longest)), max(1, min(round(width * scale), longest)))


MAX_ASPECT = 8  # a 1 x 2,000,000 px strip is read as 1 x (8 x the fit's side) px, not allocated per row at full size


@dataclass(frozen=True)
class Picture:
    """An image as the backend works with it: ``pixels`` (RGB uint8, reduced to a :class:`Fit`) and ``size``,
    the (height, width) of the full image, which the regions returned to Label Studio are drawn at."""

    pixels: np.ndarray
    size: tuple[int, int]


def decode_image(data: bytes, max_pixels: int, max_side: int = MAX_IMAGE_SIDE, fit: Fit | None = None) -> Picture:
    """Decode image bytes to RGB uint8, refusing more than ``max_pixels`` pixels or a side over ``max_side`` before
    anything is decoded; with ``fit``, JPEGs are decoded at reduced scale (Pillow's draft mode) and every image is
    reduced to the fit, so a 12-megapixel photo never exists at full size in memory."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > max_pixels:
                raise ImageError(f"image has {image.width}x{image.height} pixels, over MAX_IMAGE_PIXELS ({max_pixels})")
            if max(image.width, image.height) > max_side:
                raise ImageError(f"image is {image.width}x{image.height} pixels, a side over MAX_IMAGE_SIDE ({max_side})")
            image.seek(0)
            full = _oriented_size(image)
            if fit is not None:
                height, width = fit.shape(image.height, image.width)
                image.draft("RGB", (width, height))  # JPEG: decode at 1/2, 1/4 or 1/8 scale where that still covers the fit
            image = ImageOps.exif_transpose(image)
            image.load()
            target = fit.shape(*full) if fit is not None else None
            if target is not None and (image.height, image.width) != target:
                image = image.resize((target[1], target[0]), Image.BILINEAR, reducing_gap=2.0)
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"not a readable image: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt files
        raise ImageError(f"corrupt or truncated image: {exc}") from None
    return Picture(to_rgb(image), full)


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    """(height, width) of ``image`` as shown, after its EXIF orientation."""
    turned = image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)
    return (image.width, image.height) if turned else (image.height, image.width)


def to_rgb(image: Image.Image) -> np.ndarray:
    """RGB uint8 array of any Pillow mode (16-bit and float greyscale are rescaled)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = ((array - low) / (high - low) * 255.0) if high > low else np.zeros_like(array)
        image = Image.fromarray(scaled.astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        canvas = Image.new("RGB", image.size, (255, 255, 255))
        canvas.paste(image, mask=image.getchannel("A"))
        image = canvas
    return np.asarray(image.convert("RGB"), dtype=np.uint8)
