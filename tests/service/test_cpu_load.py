import subprocess
import sys
import time

from backend.service import cpu_load


def _counters(monkeypatch, machine: list[tuple[int, int]], own: list[float]) -> None:
    machine_samples, own_samples = iter(machine), iter(own)
    monkeypatch.setattr(cpu_load, "_cpu_times", lambda: next(machine_samples))
    monkeypatch.setattr(cpu_load, "_own_jiffies", lambda: next(own_samples))


def test_free_threads_leave_the_cores_other_work_keeps_busy(monkeypatch):
    monkeypatch.setattr(cpu_load.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(cpu_load.time, "sleep", lambda s: None)
    _counters(monkeypatch, [(100, 400), (100 + 100, 400 + 200)], [0, 0])  # half of all jiffies busy: 2 of 4 cores
    assert cpu_load.free_threads(4) == 2
    _counters(monkeypatch, [(0, 400), (200, 600)], [0, 0])  # every core busy: still one thread
    assert cpu_load.free_threads(4) == 1
    _counters(monkeypatch, [(0, 400), (0, 600)], [0, 0])  # idle: at most what torch would take
    assert cpu_load.free_threads(3) == 3
    monkeypatch.setattr(cpu_load, "_cpu_times", lambda: None)  # no /proc/stat
    assert cpu_load.free_threads(3) == 3


def test_the_runners_own_work_since_the_sample_is_not_counted_as_load(monkeypatch):
    monkeypatch.setattr(cpu_load.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cpu_load.time, "sleep", lambda s: None)
    _counters(monkeypatch, [(0, 0)], [10])
    started = cpu_load.CpuSample.now()  # then the runner imports torch: one core busy with itself
    _counters(monkeypatch, [(100 + 50, 200)], [10 + 100])
    assert cpu_load.busy_cores(started) == 0.5  # 50 jiffies of others' in 200: half a core of 2
    _counters(monkeypatch, [(100 + 50, 200)], [10 + 100])
    assert cpu_load.free_threads(2, started) == 2


def test_a_sample_shorter_than_half_a_second_waits_for_the_rest(monkeypatch):
    waited = []
    monkeypatch.setattr(cpu_load.time, "sleep", waited.append)
    cpu_load.busy_cores(cpu_load.CpuSample.now())
    assert waited and 0.4 < waited[0] <= cpu_load.SAMPLE_SECONDS
    waited.clear()
    cpu_load.busy_cores(cpu_load.CpuSample(0, 0, 0.0, time.monotonic() - 3))  # sampled for 3 s already
    assert waited == [0.0]


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
