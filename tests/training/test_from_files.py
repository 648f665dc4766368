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
