import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from backend.labelstudio import images
from backend.labelstudio.images import Fit, ImageError, ImageFetcher, decode_image
from backend.settings import Settings
from tests.support.stand_in import QuietHandler, serving


def _png(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def image_server():
    """A real HTTP server on 127.0.0.1 that records the headers it receives."""
    seen: list[dict] = []
    body = _png(Image.new("RGB", (20, 10), (10, 200, 30)))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(dict(self.headers))
            if self.path.startswith("/data/upload/"):
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()


def test_label_studio_upload_is_fetched_with_the_token(image_server):
    url, seen = image_server
    fetcher = ImageFetcher(Settings(label_studio_url=url, label_studio_api_key="secret-token").image_access)
    image = fetcher.load("/data/upload/1/a.png").pixels
    assert image.shape == (10, 20, 3) and tuple(image[0, 0]) == (10, 200, 30)
    assert seen[-1]["Authorization"] == "Token secret-token"
    assert fetcher.load(f"{url}/data/upload/1/a.png").pixels.shape == (10, 20, 3)


def test_http_errors_are_clear_and_hide_the_token(image_server):
    url, _ = image_server
    fetcher = ImageFetcher(Settings(label_studio_url=url, label_studio_api_key="secret-token").image_access)
    with pytest.raises(ImageError, match="HTTP 404") as info:
        fetcher.load(f"{url}/data/local-files/missing.png?token=abc")
    assert "secret-token" not in str(info.value) and "abc" not in str(info.value)


class _NoNetwork:
    """A session that fails the test if anything is fetched."""

    def get(self, *args, **kwargs):
        raise AssertionError(f"fetched {args[0]}")


def test_the_token_goes_only_to_media_paths_over_the_configured_scheme():
    access = Settings(label_studio_url="https://ls.example.org", label_studio_api_key="secret-token").image_access
    fetcher = ImageFetcher(access, session=_NoNetwork())
    for url in ("http://ls.example.org/data/upload/1/a.png",  # plain http to the https host
                "https://ls.example.org/tasks/../api/current-user/token",  # a path that walks out of the media
                "https://ls.example.org/data/upload/%2e%2e/%2e%2e/api/current-user/token",
                "https://ls.example.org/api/projects/"):
        with pytest.raises(ImageError, match="media paths") as info:
            fetcher.load(url)
        assert "secret-token" not in str(info.value)


def test_user_information_and_backslashes_cannot_smuggle_another_host():
    fetcher = ImageFetcher(Settings(allowed_image_hosts=("8.8.8.8",)).image_access, session=_NoNetwork())
    with pytest.raises(ImageError, match="backslash"):
        fetcher.load("http://127.0.0.1:1\\@8.8.8.8/x.png")  # urlparse sees 8.8.8.8, requests would connect to 127.0.0.1
    with pytest.raises(ImageError, match="user information"):
        fetcher.load("http://127.0.0.1:1@8.8.8.8/x.png")
    with pytest.raises(ImageError, match="malformed"):
        fetcher.load("http://[::1/x.png")


def test_other_hosts_are_refused():
    fetcher = ImageFetcher(Settings(label_studio_url="http://127.0.0.1:8080").image_access)
    with pytest.raises(ImageError, match="ALLOWED_IMAGE_HOSTS"):
        fetcher.load("http://example.com/cat.png")
    allowed = ImageFetcher(Settings(allowed_image_hosts=("localhost",)).image_access)
    with pytest.raises(ImageError, match="private address"):
        allowed.load("http://localhost:1/cat.png")
    with pytest.raises(ImageError, match="scheme"):
        fetcher.load("ftp://127.0.0.1/cat.png")
    with pytest.raises(ImageError, match="LABEL_STUDIO_URL"):
        ImageFetcher(Settings().image_access).load("/data/upload/1/a.png")


def test_local_paths_are_confined_to_the_document_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    Image.new("RGB", (4, 4)).save(root / "in.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "out.png")
    fetcher = ImageFetcher(Settings(local_files_document_root=str(root)).image_access)
    assert fetcher.load("/data/local-files/?d=in.png").pixels.shape == (4, 4, 3)
    for escape in ("/data/local-files/?d=../out.png", str(tmp_path / "out.png")):
        with pytest.raises(ImageError, match="outside"):
            fetcher.load(escape)
    with pytest.raises(ImageError, match="not found"):
        fetcher.load("/data/local-files/?d=missing.png")
    with pytest.raises(ImageError, match="no image URL"):
        fetcher.load("")
    unrooted = ImageFetcher(Settings().image_access)  # no document root: no file on disk is readable
    for path in (str(root / "in.png"), f"file://{root / 'in.png'}", "in.png"):
        with pytest.raises(ImageError, match="LOCAL_FILES_DOCUMENT_ROOT"):
            unrooted.load(path)


@pytest.mark.parametrize(
    "make",
    [
        lambda: _png(Image.new("CMYK", (6, 5), (0, 255, 0, 0)), "JPEG"),
        lambda: _png(Image.fromarray(np.arange(30, dtype=np.uint16).reshape(5, 6) * 1000)),
        lambda: _png(Image.new("L", (6, 5), 128)),
        lambda: _png(Image.new("RGBA", (6, 5), (255, 0, 0, 0))),
        lambda: _png(Image.new("P", (6, 5), 3)),
        lambda: _png(Image.new("RGB", (6, 5)), "GIF", save_all=True, append_images=[Image.new("RGB", (6, 5), (9, 9, 9))]),
    ],
    ids=["cmyk", "16bit", "grey", "rgba", "palette", "animated"],
)
def test_any_mode_becomes_rgb_uint8(make):
    picture = decode_image(make(), max_pixels=1000)
    assert picture.pixels.shape == (5, 6, 3) and picture.pixels.dtype == np.uint8 and picture.size == (5, 6)


def test_bad_images_get_clear_errors():
    good = _png(Image.new("RGB", (100, 100)))
    with pytest.raises(ImageError, match="MAX_IMAGE_PIXELS"):
        decode_image(good, max_pixels=50 * 50)
    with pytest.raises(ImageError, match="not a readable image"):
        decode_image(b"<html>not an image</html>", max_pixels=10**6)
    with pytest.raises(ImageError, match="truncated|corrupt"):
        decode_image(_png(Image.new("RGB", (100, 100)), "JPEG")[:200], max_pixels=10**6)


def _photo(width: int, height: int, **save) -> bytes:
    """A smooth colour gradient saved as JPEG (a stand-in for a camera photo)."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], axis=-1)
    return _png(Image.fromarray(pixels.astype(np.uint8)), "JPEG", quality=85, **save)


def test_a_photo_is_decoded_at_the_size_the_model_needs_and_keeps_its_full_size():
    data = _photo(4000, 3000)
    picture = decode_image(data, max_pixels=50_000_000, fit=Fit(224, 160))
    assert picture.size == (3000, 4000) and picture.pixels.shape == (224, 299, 3)  # short side 224, aspect kept
    full = decode_image(data, max_pixels=50_000_000).pixels
    reduced = np.asarray(Image.fromarray(full).resize((299, 224), Image.BILINEAR), dtype=np.float32)
    assert np.abs(picture.pixels.astype(np.float32) - reduced).mean() < 3  # draft-mode decoding: the same picture
    small = decode_image(_photo(100, 80), max_pixels=10**6, fit=Fit(224, 160))
    assert small.pixels.shape == (80, 100, 3)  # never upscaled


def test_exif_rotation_turns_the_full_size_too():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    picture = decode_image(_photo(400, 300, exif=exif), max_pixels=10**6, fit=Fit(64, 64))
    assert picture.size == (400, 300) and picture.pixels.shape[0] > picture.pixels.shape[1]


def test_thin_strips_and_header_only_bombs_cost_little():
    import resource
    import time

    strip = _png(Image.new("L", (1, 19_000), 128))  # a few hundred bytes, 19,000 px tall
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    picture = decode_image(strip, max_pixels=50_000_000, fit=Fit(224, 160))
    assert picture.size == (19_000, 1) and picture.pixels.shape == (8 * 224, 1, 3)  # squeezed to 8 x the fit
    with pytest.raises(ImageError, match="MAX_IMAGE_SIDE"):
        decode_image(_png(Image.new("L", (1, 2_000_000), 128)), max_pixels=50_000_000, fit=Fit(224, 160))
    header = _photo(64, 64)
    bomb = bytearray(header)
    marker = bomb.index(b"\xff\xc0")  # start of frame: height and width follow the precision byte
    bomb[marker + 5 : marker + 9] = (7000).to_bytes(2, "big") + (7000).to_bytes(2, "big")
    with pytest.raises(ImageError, match="truncated|corrupt"):
        decode_image(bytes(bomb[:700]), max_pixels=50_000_000, fit=Fit(224, 160))
    assert time.perf_counter() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: nothing near full size


@pytest.fixture
def slow_server():
    """A server on 127.0.0.1 that sends a PNG one byte every 0.2 s (``/slow/``) or accepts and never answers
    (``/silent/``)."""
    body = _png(Image.new("RGB", (20, 10)))
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/data/upload/silent/"):
                stop.wait(10)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                if stop.wait(0.2):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    stop.set()
    server.shutdown()


def test_image_timeout_is_a_deadline_for_the_whole_download(slow_server, monkeypatch):
    monkeypatch.setattr(images, "SLOW_HOSTS", images.HostBackoff())
    fetcher = ImageFetcher(Settings(label_studio_url=slow_server, image_timeout=1.0).image_access)
    started = time.monotonic()
    with pytest.raises(ImageError, match="within IMAGE_TIMEOUT"):
        fetcher.load("/data/upload/slow/a.png")  # about 80 bytes at 5 bytes/s: 16 s without a deadline
    assert time.monotonic() - started < 2.5  # the deadline plus at most one read's wait


def test_a_host_that_keeps_timing_out_is_paused(slow_server, monkeypatch):
    monkeypatch.setattr(images, "SLOW_HOSTS", images.HostBackoff(strikes=2, pause=60))
    fetcher = ImageFetcher(Settings(label_studio_url=slow_server, image_timeout=0.5).image_access)
    for _ in range(2):
        with pytest.raises(ImageError, match="within IMAGE_TIMEOUT"):
            fetcher.load("/data/upload/silent/a.png")
    started = time.monotonic()
    for _ in range(50):  # 50 more tasks on that host cost nothing
        with pytest.raises(ImageError, match="timed out repeatedly"):
            fetcher.load("/data/upload/silent/b.png")
    assert time.monotonic() - started < 0.5


def test_an_allowed_host_is_resolved_once_and_connected_at_the_checked_address(monkeypatch):
    """DNS rebinding: the name answers a public address to the check and 127.0.0.1 afterwards; the connection
    must go to the address that was checked."""
    import socket

    import urllib3

    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    lookups = []

    def rebinding(host, *args, **kwargs):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), 0))]

    connected = []

    def urlopen(self, method, url, **kwargs):
        connected.append((self.host, url, kwargs["headers"]["Host"]))
        raise urllib3.exceptions.NewConnectionError(None, "stopped by the test")

    monkeypatch.setattr(images.socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(urllib3.HTTPConnectionPool, "urlopen", urlopen)
    fetcher = ImageFetcher(Settings(allowed_image_hosts=("img.example.org",)).image_access, session=_NoNetwork())
    with pytest.raises(ImageError, match="NewConnectionError"):
        fetcher.load("http://img.example.org/cats/a.png?size=2")
    assert lookups == ["img.example.org"]
    assert connected == [("93.184.216.34", "/cats/a.png?size=2", "img.example.org")]


def _jwt(claims: dict) -> str:
    import base64
    import json

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.fixture
def pat_server():
    """A stand-in Label Studio with legacy tokens off: /api/token/refresh/ exchanges a personal access token for an
    access token, and media answer only to ``Bearer <access token>``."""
    refreshes: list[str] = []
    access = _jwt({"token_type": "access", "exp": time.time() + 300})
    body = _png(Image.new("RGB", (20, 10)))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            import json

            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            refreshes.append(payload["refresh"])
            answer = json.dumps({"access": access}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self):  # noqa: N802
            ok = self.headers.get("Authorization") == f"Bearer {access}"
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(body) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", refreshes
    server.shutdown()


def test_a_personal_access_token_is_exchanged_once_and_sent_as_bearer(pat_server):
    url, refreshes = pat_server
    pat = _jwt({"token_type": "refresh", "exp": time.time() + 3600})
    settings = Settings.from_env({"LABEL_STUDIO_HOST": url, "LABEL_STUDIO_ACCESS_TOKEN": pat})  # the official aliases
    fetcher = ImageFetcher(settings.image_access)
    for _ in range(3):
        assert fetcher.load("/data/upload/1/a.png").pixels.shape == (10, 20, 3)
    assert refreshes == [pat]  # one exchange; the access token is reused until shortly before it expires
    expired = ImageFetcher(Settings(label_studio_url=url, label_studio_api_key=_jwt({"token_type": "refresh", "exp": 1})).image_access)
    with pytest.raises(ImageError, match="has expired"):
        expired.load("/data/upload/1/b.png")  # an image not yet in the backend's cache needs the token


@pytest.fixture
def cloud():
    """A stand-in Label Studio presign endpoint and a stand-in storage host, both on 127.0.0.1, recording requests.

    ``/tasks/<id>/presign/?fileuri=<base64>`` answers 303 to the storage host's signed URL for that object; the
    storage host serves ``/bucket/cat.png`` and, for ``/bucket/loop.png``, redirects once more."""
    import base64
    from urllib.parse import parse_qs, urlparse

    body = _png(Image.new("RGB", (30, 20), (200, 10, 40)))
    seen: dict[str, list] = {"label_studio": [], "storage": []}
    ports: dict[str, int] = {}

    class LabelStudio(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen["label_studio"].append((self.path, self.headers.get("Authorization")))
            parsed = urlparse(self.path)
            uri = base64.urlsafe_b64decode(parse_qs(parsed.query)["fileuri"][0]).decode()
            self.send_response(303)
            key = uri.split("://", 1)[1]
            self.send_header("Location", f"http://127.0.0.1:{ports['storage']}/{key}?X-Amz-Signature=abc")
            self.end_headers()

        def log_message(self, *args):
            pass

    class Storage(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen["storage"].append((self.path, self.headers.get("Authorization")))
            if self.path.startswith("/bucket/cat.png"):
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{ports['storage']}/bucket/cat.png")
                self.end_headers()

        def log_message(self, *args):
            pass

    servers = {name: ThreadingHTTPServer(("127.0.0.1", 0), handler) for name, handler in
               (("label_studio", LabelStudio), ("storage", Storage))}
    for name, server in servers.items():
        ports[name] = server.server_port
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{ports['label_studio']}", seen
    for server in servers.values():
        server.shutdown()


def test_cloud_storage_images_come_through_the_presign_redirect_without_the_token(cloud, tmp_path):
    url, seen = cloud
    settings = Settings(label_studio_url=url, label_studio_api_key="secret-token", model_dir=str(tmp_path))
    image = ImageFetcher(settings.image_access).load("s3://bucket/cat.png", task_id=7).pixels
    assert image.shape == (20, 30, 3) and tuple(image[0, 0]) == (200, 10, 40)
    [(path, token)] = seen["label_studio"]
    assert path.startswith("/tasks/7/presign/?fileuri=") and token == "Token secret-token"
    [(path, token)] = seen["storage"]
    assert path == "/bucket/cat.png?X-Amz-Signature=abc" and token is None  # the token only ever goes to Label Studio
    again = ImageFetcher(settings.image_access)  # another process of the backend: served from the shared cache
    assert again.load("s3://bucket/cat.png", task_id=7).pixels.shape == (20, 30, 3)
    assert len(seen["storage"]) == 1 and len(seen["label_studio"]) == 1
    resolved = seen["label_studio"][0][0]  # the presign path as Label Studio itself writes it into task data
    assert ImageFetcher(settings.image_access).load(resolved).pixels.shape == (20, 30, 3)


def test_cloud_storage_refusals_are_clear(cloud, tmp_path):
    url, seen = cloud
    fetcher = ImageFetcher(Settings(label_studio_url=url, label_studio_api_key="secret-token", model_dir=str(tmp_path),
                                    max_image_bytes=20).image_access)
    with pytest.raises(ImageError, match="task's id"):
        fetcher.load("gs://bucket/cat.png")
    with pytest.raises(ImageError, match="LABEL_STUDIO_URL is not set"):
        ImageFetcher(Settings(model_dir=str(tmp_path)).image_access).load("azure-blob://bucket/cat.png", task_id=1)
    with pytest.raises(ImageError, match="larger than MAX_IMAGE_BYTES"):  # the same limits as every image
        fetcher.load("s3://bucket/cat.png", task_id=3)
    roomy = ImageFetcher(Settings(label_studio_url=url, label_studio_api_key="k", model_dir=str(tmp_path)).image_access)
    with pytest.raises(ImageError, match="HTTP 302"):  # exactly one redirect: the storage host's own is not followed
        roomy.load("s3://bucket/loop.png", task_id=3)
    assert all(token is None for _, token in seen["storage"])


@pytest.fixture
def trickling_headers():
    """A stand-in Label Studio on 127.0.0.1 whose answers send the status line, then one header byte every 0.5 s:
    ``/data/upload/...`` directly, ``/tasks/<id>/presign/`` after a presign redirect to its own ``/storage/``."""
    stop = threading.Event()

    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/tasks/"):
                return self.answer(303, Location=f"http://127.0.0.1:{self.server.server_port}/storage/a.png")
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self.wfile.flush()
            for byte in b"X-Slow: " + b"a" * 200:
                if stop.wait(0.5):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

    with serving(Handler) as url:
        yield url
        stop.set()


def test_the_deadline_also_cuts_a_server_that_trickles_its_headers(trickling_headers, tmp_path, monkeypatch):
    monkeypatch.setattr(images, "SLOW_HOSTS", images.HostBackoff(strikes=100))
    settings = Settings(label_studio_url=trickling_headers, label_studio_api_key="k", image_timeout=1.0,
                        model_dir=str(tmp_path))
    for reference, task in (("/data/upload/1/a.png", None), ("s3://bucket/a.png", 7)):  # direct, behind a presign
        started = time.monotonic()
        with pytest.raises(ImageError, match="within IMAGE_TIMEOUT"):
            ImageFetcher(settings.image_access).load(reference, task_id=task)
        assert time.monotonic() - started < 2.0  # 200 header bytes at 2 a second: 100 s without the deadline


@pytest.fixture
def hanging_refresh():
    """A stand-in Label Studio whose /api/token/refresh/ never answers; counts the exchanges it was asked for."""
    asked: list[float] = []
    stop = threading.Event()

    class Handler(QuietHandler):
        def do_POST(self):  # noqa: N802
            asked.append(time.monotonic())
            stop.wait(30)

    with serving(Handler) as url:
        yield url, asked
        stop.set()


def test_a_hanging_token_exchange_is_tried_once_per_pause_not_once_per_image(hanging_refresh):
    url, asked = hanging_refresh
    pat = _jwt({"token_type": "refresh", "exp": time.time() + 3600})
    fetcher = ImageFetcher(Settings(label_studio_url=url, label_studio_api_key=pat, image_timeout=0.5).image_access)
    started = time.monotonic()
    for request in range(2):  # two /predict requests of 8 tasks each
        for task in range(8):
            with pytest.raises(ImageError, match="personal access token"):
                fetcher.load(f"/data/upload/1/{request}-{task}.png")
    assert time.monotonic() - started < 2.0  # one time-out (0.5 s), not 16
    assert len(asked) == 1


def test_a_short_lived_access_token_is_reused_for_half_its_life(pat_server, monkeypatch):
    from backend.labelstudio import auth

    url, refreshes = pat_server
    pat = _jwt({"token_type": "refresh", "exp": time.time() + 3600})
    fetcher = ImageFetcher(Settings(label_studio_url=url, label_studio_api_key=pat).image_access)
    monkeypatch.setattr(auth, "EARLY", 400.0)  # the server's access tokens live 300 s: shorter than EARLY
    for _ in range(5):
        fetcher.load("/data/upload/1/a.png")
    assert refreshes == [pat]


def test_the_token_goes_to_a_tasks_presign_endpoint_and_no_other_tasks_path():
    fetcher = ImageFetcher(Settings(label_studio_url="https://ls.example.org", label_studio_api_key="t").image_access,
                           session=_NoNetwork())
    for path in ("/tasks/1/", "/tasks/7/annotations/", "/tasks/7/presign/../annotations/", "/tasks/", "/tasks/x/presign/"):
        with pytest.raises(ImageError, match="media paths"):
            fetcher.load(f"https://ls.example.org{path}")
    assert images._media("/tasks/7/presign") and images._media("/data/upload/1/a.png")


def test_a_cached_image_serves_only_the_project_that_was_granted_it(cloud, tmp_path):
    url, seen = cloud
    settings = Settings(label_studio_url=url, label_studio_api_key="secret-token", model_dir=str(tmp_path))
    ImageFetcher(settings.image_access, scope="1").load("s3://bucket/cat.png", task_id=7)
    ImageFetcher(settings.image_access, scope="2").load("s3://bucket/cat.png", task_id=999)
    assert [path.split("?")[0] for path, _ in seen["label_studio"]] == ["/tasks/7/presign/", "/tasks/999/presign/"]
    ImageFetcher(settings.image_access, scope="2").load("s3://bucket/cat.png", task_id=999)  # now its own copy
    assert len(seen["label_studio"]) == 2


@pytest.mark.parametrize("reference, why", [
    ("http://user@ls.example.org/data/upload/1/a.png", "user information"),
    ("http://[::1/x.png", "malformed"),
    ("javascript:alert(1)", "scheme"),
    ("data:image/png;base64,AAAA", "scheme"),
    ("http:///data/upload/1/a.png", "without a host"),
    ("http://ls.example.org:99999/a.png", "malformed"),
    ("/data/upload/a\x7f.png", "control character"),
])
def test_references_no_image_can_have_are_refused_before_anything_else(reference, why):
    with pytest.raises(ImageError, match=why):
        images.check_reference(reference)


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "64:ff9b::a00:1", "2002:7f00:1::", "2002:c0a8:101::1",
                                     "::ffff:127.0.0.1", "::7f00:1", "2001:0:4136:e378:8000:63bf:80ff:fffe",
                                     "10.0.0.1", "fe80::1", "100.64.0.1"])
def test_addresses_that_reach_private_ipv4_through_ipv6_are_not_public(address):
    from backend.labelstudio.addresses import is_public

    assert not is_public(address)


def test_public_addresses_stay_public():
    from backend.labelstudio.addresses import is_public

    assert is_public("93.184.216.34") and is_public("2606:2800:220:1:248:1893:25c8:1946")
    assert is_public("64:ff9b::5db8:d822") and is_public("2002:5db8:d822::1")  # NAT64 / 6to4 of a public IPv4


@pytest.fixture
def busy_label_studio():
    """A stand-in Label Studio that answers 429 (Retry-After: 0.1) to the first ``busy[0]`` media requests."""
    busy, asked = [2], []
    body = _png(Image.new("RGB", (20, 10)))

    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802
            asked.append(self.path)
            self.answer(429, Retry_After="0.1") if len(asked) <= busy[0] else self.answer(200, body)

    with serving(Handler) as url:
        yield url, busy, asked


def test_an_image_answered_429_is_fetched_again_after_retry_after(busy_label_studio):
    url, busy, asked = busy_label_studio
    fetcher = ImageFetcher(Settings(label_studio_url=url, label_studio_api_key="k", image_timeout=5).image_access)
    assert fetcher.load("/data/upload/1/a.png").pixels.shape == (10, 20, 3) and len(asked) == 3
    busy[0] = 100
    started = time.monotonic()
    with pytest.raises(ImageError, match="429"):
        fetcher.load("/data/upload/1/b.png")
    assert len(asked) == 3 + 1 + images.RATE_LIMIT_RETRIES and time.monotonic() - started < 2
