"""``attention-compare-trainers``: both trainers on the cue-free split, per seed, and their largest difference."""
from backend.cli.compare_trainers import compare


def test_both_trainers_are_measured_per_seed_on_every_evaluation_split(dataset_dir):
    found = compare(dataset_dir, "small_cnn", 32, epochs=1, seeds=2)
    assert [r["seed"] for r in found["runs"]] == [0, 1]
    for run in found["runs"]:
        assert {"in_memory_test", "streamed_test", "in_memory_shifted", "streamed_shifted"} <= set(run)
    differences = [abs(r[f"streamed_{n}"] - r[f"in_memory_{n}"]) for r in found["runs"] for n in ("test", "shifted")]
    assert found["largest_difference"] == round(max(differences), 4)
