import subprocess
import sys

from backend.storage.run_lock import RunLock


def test_only_one_holder_at_a_time(tmp_path):
    lock = RunLock(tmp_path / "train.lock")
    assert not lock.is_held()
    with lock.hold() as held:
        assert held and lock.is_held()
        with lock.hold() as again:
            assert not again  # another open file description: refused, not blocked
    assert not lock.is_held()


def test_a_lock_held_by_another_process_is_seen(tmp_path):
    path = tmp_path / "train.lock"
    code = ("import fcntl, sys, time; h = open(sys.argv[1], 'a'); fcntl.flock(h, fcntl.LOCK_EX); print('ok', flush=True); "
            "time.sleep(30)")
    child = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ok"
        assert RunLock(path).is_held()
    finally:
        child.kill()
        child.wait()
    assert not RunLock(path).is_held()  # released when its holder dies
