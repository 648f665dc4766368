import numpy as np

from backend.storage.project_dir import ProjectDir
from backend.storage.score_cache import ScoreCache


def test_round_trip_per_version(tmp_path):
    project = ProjectDir(tmp_path, 3)
    entries = {str(t): {"probabilities": np.array([0.2, 0.8]), "attention": np.full((4, 4), t / 10, np.float32),
                        "embeddings": np.arange(3, dtype=np.float32) * t, "colours": np.full((4, 4, 3), t, np.uint8)}
               for t in (1, 2)}
    ScoreCache(project, "v0001").save(entries)
    loaded = ScoreCache(project, "v0001").load()
    assert sorted(loaded) == ["1", "2"]
    assert np.allclose(loaded["2"]["attention"], 0.2, atol=1e-3) and loaded["2"]["attention"].dtype == np.float16
    assert np.array_equal(loaded["1"]["embeddings"], [0, 1, 2])
    assert loaded["2"]["colours"].dtype == np.uint8 and loaded["2"]["colours"][0, 0, 0] == 2
    assert ScoreCache(project, "v0002").load() == {}


def test_a_cache_written_without_a_field_is_rescored(tmp_path):
    project = ProjectDir(tmp_path, 3)
    path = ScoreCache(project, "v0001").path
    path.parent.mkdir(parents=True)
    np.savez(path, task_ids=np.array(["1"]), probabilities=np.ones((1, 2)), attention=np.ones((1, 4, 4)),
             embeddings=np.ones((1, 3)))
    assert ScoreCache(project, "v0001").load() == {}
