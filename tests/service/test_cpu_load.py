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
    assert cpu_load.free_threads(4, cpu_load.busy_cores()) == 2
    _counters(monkeypatch, [(0, 400), (200, 600)], [0, 0])  # every core busy: still one thread
    assert cpu_load.free_threads(4, cpu_load.busy_cores()) == 1
    _counters(monkeypatch, [(0, 400), (0, 600)], [0, 0])  # idle: at most what torch would take
    assert cpu_load.free_threads(3, cpu_load.busy_cores()) == 3
    monkeypatch.setattr(cpu_load, "_cpu_times", lambda: None)  # no /proc/stat
    assert cpu_load.free_threads(3, cpu_load.busy_cores()) == 3


def test_the_runners_own_work_since_the_sample_is_not_counted_as_load(monkeypatch):
    monkeypatch.setattr(cpu_load.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cpu_load.time, "sleep", lambda s: None)
    _counters(monkeypatch, [(0, 0)], [10])
    started = cpu_load.CpuSample.now()  # then the runner imports torch: one core busy with itself
    _counters(monkeypatch, [(100 + 50, 200)], [10 + 100])
    assert cpu_load.busy_cores(started) == 0.5  # 50 jiffies of others' in 200: half a core of 2
    _counters(monkeypatch, [(100 + 50, 200)], [10 + 100])
    assert cpu_load.free_threads(2, cpu_load.busy_cores(started)) == 2


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
        assert cpu_load.free_threads(cores, busy) <= max(1, cores - 1)
    finally:
        burner.kill()
        burner.wait()


def test_a_waiting_process_takes_its_quietest_interval_for_the_load(monkeypatch):
    monkeypatch.setattr(cpu_load.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cpu_load.time, "sleep", lambda s: None)
    # others' busy jiffies per 100 (2 cores): a burst (1.8 cores), one quiet interval, the burst again
    _counters(monkeypatch, [(0, 0), (90, 100), (90, 200), (180, 300)], [0, 0, 0, 0])
    load = cpu_load.LoadHistory(seconds=1.5, tick=0.5)
    for _ in range(3):
        load.add()
    assert load.busy_cores() == 0.0  # no fresh sample taken (the counters would run out)
    # busy in every interval (the annotations that asked for the run came one after another): a fresh sample says
    _counters(monkeypatch, [(0, 0), (90, 100), (140, 200), (1000, 1000), (1000, 1100)], [0] * 5)
    load = cpu_load.LoadHistory(seconds=1.0, tick=0.5)
    load.add()
    load.add()
    assert load.busy_cores() == 0.0 and cpu_load.free_threads(2, 0.0) == 2
    # a neighbour busy all along and still
    _counters(monkeypatch, [(0, 0), (50, 100), (100, 200), (1000, 1000), (1050, 1100)], [0] * 5)
    load = cpu_load.LoadHistory(seconds=1.0, tick=0.5)
    load.add()
    load.add()
    assert load.busy_cores() == 1.0 and cpu_load.free_threads(2, 1.0) == 1
