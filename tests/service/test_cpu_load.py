import subprocess
import sys
import time

from backend.service import cpu_load


def test_free_threads_leave_the_cores_other_work_keeps_busy(monkeypatch):
    samples = iter([(100, 400), (100 + 100, 400 + 200)])  # half of all jiffies busy: 2 of 4 cores
    monkeypatch.setattr(cpu_load, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(cpu_load.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(cpu_load.time, "sleep", lambda s: None)
    assert cpu_load.free_threads(4) == 2
    samples = iter([(0, 400), (200, 600)])  # every core busy: still one thread
    assert cpu_load.free_threads(4) == 1
    samples = iter([(0, 400), (0, 600)])  # idle: at most what torch would take
    assert cpu_load.free_threads(3) == 3
    monkeypatch.setattr(cpu_load, "_cpu_times", lambda: None)  # no /proc/stat
    assert cpu_load.free_threads(3) == 3


def test_a_cpu_bound_process_beside_the_run_takes_a_thread_away():
    import os

    cores = os.cpu_count() or 1
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        busy = cpu_load.busy_cores()
        assert busy is not None and busy >= 0.8
        assert cpu_load.free_threads(cores) <= max(1, cores - 1)
    finally:
        burner.kill()
        burner.wait()
