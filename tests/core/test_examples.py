import numpy as np

from backend.core.examples import Example


def test_guidance_and_saliency_say_what_a_person_gave():
    label_only = Example(task_id=1, image_url="x", label=0)
    assert not label_only.has_guidance and not label_only.has_saliency and label_only.saliency_mask() is None
    clicked = Example(task_id=2, image_url="x", label=1, positive=[(50.0, 50.0)])
    assert clicked.has_guidance and not clicked.has_saliency
    boxed = Example(task_id=3, image_url="x", boxes=[(10.0, 10.0, 20.0, 20.0)])
    assert boxed.has_guidance and boxed.has_saliency


def test_saliency_mask_is_the_union_of_object_regions():
    a = np.zeros((4, 4), dtype=bool)
    b = np.zeros((4, 4), dtype=bool)
    a[0, 0] = b[3, 3] = True
    example = Example(task_id=1, image_url="x", saliency_masks=[a, b])
    assert example.saliency_mask().sum() == 2 and example.has_saliency
