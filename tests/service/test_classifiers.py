from backend.service.classifiers import interpretability_classifier, project_classifier
from backend.storage.project_dir import ProjectDir


def test_the_served_classifier_follows_the_settings(settings, dataset):
    folder = ProjectDir(settings.model_dir, 1)
    served = project_classifier(settings.model, folder, dataset.classes)
    assert served.source == "model_path" and served.arch == "resnet18" and served.image_size == 64
    fallback = project_classifier(settings.updated(model_path="", model_arch="small_cnn", image_size=96).model, folder, dataset.classes)
    assert (fallback.source, fallback.arch, fallback.image_size) == ("random", "small_cnn", 96)
    assert interpretability_classifier(folder, dataset.classes) is None
