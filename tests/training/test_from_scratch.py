from backend.training.from_scratch import accuracy


def test_a_model_trained_from_scratch_learns_the_shortcut(biased):
    """The session's biased model is trained by train_from_scratch: right in distribution, wrong when the cue flips."""
    data, model = biased
    assert not model.training
    assert accuracy(model, data.images("test"), data.labels("test"), 64) >= 0.8
    assert accuracy(model, data.images("shifted"), data.labels("shifted"), 64) <= 0.5
