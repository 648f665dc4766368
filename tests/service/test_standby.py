"""A runner started ahead of its run: the hand-over protocol, and a real standby taking a webhook's run."""
import json
import os
import socket
import threading
import time

from backend.evaluation.annotators import click_event
from backend.http.server import create_app
from backend.service import standby, standby_runner
from backend.service.scheduler import TrainingScheduler
from backend.service.standby import StandbyPaths, hand_to_standby, stop_standby
from backend.storage.run_lock import try_lock
from tests.service.projects import folder_of


def _descriptors(tmp_path):
    return [os.open(tmp_path / name, os.O_RDWR | os.O_CREAT) for name in ("lock", "slot")]


def test_a_message_from_other_code_is_refused_and_its_descriptors_closed(tmp_path):
    for code, answer in ((standby.STARTED_WITH, b"ok"), ("another checkout", b"no")):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fds = _descriptors(tmp_path)
        message = {"project": "8", "settings": "/x/run_settings.json", "env": {"LABEL_STUDIO_API_KEY": "t"}, "code": code}
        socket.send_fds(theirs, [json.dumps(message).encode()], fds)
        for fd in fds:
            os.close(fd)
        before = len(os.listdir("/proc/self/fd"))  # the sent descriptors are in flight, in no table
        job = standby_runner.receive_job(ours)
        assert theirs.recv(16) == answer
        if answer == b"ok":
            assert (job.project, job.settings, job.env) == ("8", "/x/run_settings.json", {"LABEL_STUDIO_API_KEY": "t"})
            assert os.fstat(job.lock_fd).st_ino == os.stat(tmp_path / "lock").st_ino  # the same open files
            os.close(job.lock_fd)
            os.close(job.slot_fd)
        else:
            assert job is None and len(os.listdir("/proc/self/fd")) == before
        ours.close()
        theirs.close()


def test_a_run_goes_to_the_waiting_standby_once_and_to_a_process_when_none_waits(tmp_path):
    paths = StandbyPaths.of(tmp_path)
    paths.folder.mkdir()
    lock, slot = _descriptors(tmp_path)
    assert not hand_to_standby(tmp_path, "8", tmp_path / "s.json", {}, lock, slot)  # nobody waits
    got = {}
    waiter = threading.Thread(target=lambda: got.update(zip(("job", "load"), standby_runner.wait_for_job(paths, 30))))
    waiter.start()
    deadline = time.monotonic() + 10
    while not paths.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert oct(paths.socket.stat().st_mode & 0o777) == "0o600"
    assert hand_to_standby(tmp_path, "8", tmp_path / "s.json", {"K": "v"}, lock, slot)
    waiter.join(5)
    job = got["job"]
    assert job.project == "8" and job.env == {"K": "v"} and got["load"].busy_cores() is not None
    assert os.fstat(job.slot_fd).st_ino == os.fstat(slot).st_ino
    assert not paths.socket.exists()  # one run per standby: the next request starts a process
    assert not hand_to_standby(tmp_path, "8", tmp_path / "s.json", {}, lock, slot)
    for fd in (lock, slot, job.lock_fd, job.slot_fd):
        os.close(fd)


def test_a_removed_socket_sends_the_standby_away(tmp_path):
    paths = StandbyPaths.of(tmp_path)
    paths.folder.mkdir()
    got = []
    waiter = threading.Thread(target=lambda: got.append(standby_runner.wait_for_job(paths, 30)))
    waiter.start()
    while not paths.socket.exists():
        time.sleep(0.01)
    paths.socket.unlink()
    waiter.join(5)
    assert got[0][0] is None


def _ready(paths, timeout=120):
    """The pid of the standby waiting on ``paths`` (its socket bound after its imports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if paths.socket.exists():
            return int(paths.lock.read_text())
        time.sleep(0.1)
    raise AssertionError(f"no standby runner: {paths.log.read_text() if paths.log.exists() else 'no log'}")


def test_the_server_starts_a_standby_that_takes_the_webhooks_run_and_leaves_a_successor(env, tmp_path_factory):
    data, settings, xml = env
    settings = settings.updated(train_standby=120)
    client = create_app(settings).test_client()
    paths = StandbyPaths.of(settings.model_dir)
    first = _ready(paths)
    assert client.post("/webhook", json=click_event(data, xml, 0, 8)).json["status"] == "started"
    status = TrainingScheduler(settings).wait(8, timeout=120)
    assert status["state"] == "idle" and status["last_version"] == "v0001" and status["pid"] == first
    log = folder_of(settings).log.read_text()
    assert f"project 8: standby runner {first} takes the run" in log and "starting a runner" not in log
    second = _ready(paths)  # the runner that finished started the next one
    assert second != first
    assert stop_standby(settings.model_dir)
    deadline = time.monotonic() + 10
    while (lock := try_lock(paths.lock)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock is not None and not paths.socket.exists()
    os.close(lock)
