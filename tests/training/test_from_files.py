from backend.models.architectures import build_model
from backend.training.from_files import files_accuracy, train_from_files


def test_streamed_training_learns_and_measures_each_epoch(biased):
    data, _ = biased
    train = ([s.image for s in data.splits["train"][:200]], [s.label for s in data.splits["train"][:200]])
    test = ([s.image for s in data.splits["test"]], [s.label for s in data.splits["test"]])
    model = build_model("small_cnn", len(data.classes), seed=0)
    history = train_from_files(model, train, test, image_size=64, epochs=3, workers=0, progress=False)
    assert len(history.loss) == len(history.validation_accuracy) == len(history.seconds) == 3
    assert history.loss[-1] < history.loss[0]
    assert history.validation_accuracy[-1] == files_accuracy(model, *test, 64, workers=0) >= 0.9  # the cue is easy
    assert not model.training


def test_streamed_training_learns_the_object_as_well_as_training_in_memory(biased):
    """On cue-free images (only the object tells the class) the same recipe must reach the same accuracy whether the
    images stream from files or sit in memory: a user's base model comes from the streamed path."""
    import numpy as np

    from backend.training.from_scratch import accuracy, train_from_scratch

    data, _ = biased
    split = data.splits["train_unbiased"]
    paths, labels = [s.image for s in split], [s.label for s in split]
    shifted = (data.images("shifted"), np.asarray(data.labels("shifted")))
    memory = train_from_scratch(data.images("train_unbiased"), np.asarray(labels), len(data.classes), "small_cnn",
                                image_size=64, epochs=12, seed=0)
    streamed = build_model("small_cnn", len(data.classes), seed=0)
    train_from_files(streamed, (paths, labels), None, image_size=64, epochs=12, seed=0, workers=0, progress=False)
    in_memory, from_files = accuracy(memory, *shifted, 64), accuracy(streamed, *shifted, 64)
    assert in_memory >= 0.8, "the in-memory recipe must learn the object for the comparison to mean anything"
    assert abs(from_files - in_memory) <= 0.1, (from_files, in_memory)
