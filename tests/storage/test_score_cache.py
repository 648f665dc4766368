import numpy as np

from backend.storage.project_dir import ProjectDir
from backend.storage.score_cache import ScoreCache


def test_round_trip_per_version(tmp_path):
    project = ProjectDir(tmp_path, 3)
    entries = {str(t): {"probabilities": np.array([0.2, 0.8]), "attention": np.full((4, 4), t / 10, np.float32),
                        "embeddings": np.arange(3, dtype=np.float32) * t} for t in (1, 2)}
    ScoreCache(project, "v0001").save(entries)
    loaded = ScoreCache(project, "v0001").load()
    assert sorted(loaded) == ["1", "2"]
    assert np.allclose(loaded["2"]["attention"], 0.2, atol=1e-3) and loaded["2"]["attention"].dtype == np.float16
    assert np.array_equal(loaded["1"]["embeddings"], [0, 1, 2])
    assert ScoreCache(project, "v0002").load() == {}
