import torch

from backend.training import distributed


def test_a_process_without_torchrun_is_a_world_of_one(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    world = distributed.current()
    assert world == distributed.World() and world.is_main and not world.distributed
    assert list(distributed.shard(list(range(5)), world)) == [0, 1, 2, 3, 4]
    assert distributed.gather({"a": 1}, world) == [{"a": 1}]
    assert distributed.resolve_device("cpu") == torch.device("cpu")


def test_shards_of_every_rank_cover_the_items_once(monkeypatch):
    items = list(range(10))
    shards = [distributed.shard(items, distributed.World(rank, 3)) for rank in range(3)]
    assert sorted(i for s in shards for i in s) == items and shards[1] == [1, 4, 7]
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    world = distributed.current()
    assert (world.rank, world.size, world.local_rank, world.is_main) == (2, 4, 1, False)
    assert distributed.device_for(world, torch.device("cuda")) == torch.device("cuda", 1)
    assert distributed.device_for(world, torch.device("cpu")) == torch.device("cpu")
