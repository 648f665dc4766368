import torch

from backend.core.counterfactuals import (
    cut_down,
    cut_on_partners,
    fit_objects,
    hide_background,
    input_gradient_share,
    partners,
    paste_on_partners,
    randomize_ignored,
    remove_objects,
    swap_backgrounds,
    uniform_loss,
)


def _batch():
    """Four 8x8 images: a constant background per image and a 2x2 object of value 10 + i."""
    images = torch.zeros(4, 3, 8, 8)
    objects = torch.zeros(4, 8, 8)
    for i in range(4):
        images[i] = float(i)
        images[i, :, 2:4, 2:4] = 10.0 + i
        objects[i, 2:4, 2:4] = 1.0
    return images, objects, torch.tensor([0, 1, 0, 1])


def test_removing_an_object_fills_it_with_its_background():
    images, objects, _ = _batch()
    emptied = remove_objects(images, objects)
    for i in range(4):
        assert torch.allclose(emptied[i], torch.full((3, 8, 8), float(i)))


def test_hiding_fills_the_background_inside_the_region_and_keeps_the_object():
    images, objects, _ = _batch()
    images[0, :, 6:, 6:] = 5.0  # a mark in the corner of image 0's background
    regions = torch.zeros(4, 8, 8)
    regions[:, 1:, 1:] = 1.0  # a region over the object and the corner
    hidden = hide_background(images, objects, regions)
    mean = (images[0, 0].sum() - images[0, 0, 1:5, 1:5].sum()) / (64 - 16)  # background: all but the dilated object
    assert torch.allclose(hidden[0, :, 6:, 6:], mean.expand(3, 2, 2))  # the mark is gone
    assert torch.equal(hidden[:, :, 1:5, 1:5], images[:, :, 1:5, 1:5])  # the object and its rim stay
    assert torch.equal(hidden[:, :, 0], images[:, :, 0])  # outside the region nothing changes


def test_swapped_objects_keep_their_pixels_on_a_background_of_another_class():
    images, objects, labels = _batch()
    swapped, blanks = swap_backgrounds(images, objects, labels, share=1.0, generator=torch.Generator().manual_seed(0))
    for i in range(4):
        assert torch.equal(swapped[i, :, 2:4, 2:4], images[i, :, 2:4, 2:4])  # the object itself is untouched
        background = swapped[i, 0, 6, 6].item()
        assert background != i and int(background) % 2 != labels[i].item() % 2  # another class's background
    assert len(blanks) >= 2 and all(torch.allclose(b, b[0, 0, 0]) for b in blanks)  # objects removed
    unchanged, none = swap_backgrounds(images, objects, labels, share=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(unchanged, images) and len(none) == 0


def test_partners_prefer_another_class_and_skip_unusable_images():
    labels = torch.tensor([0, 0, 1, 1])
    chosen = partners(labels, torch.tensor([True, True, True, False]), torch.Generator().manual_seed(1))
    assert chosen[0].item() == 2 and chosen[1].item() == 2 and chosen[2].item() in (0, 1)


def test_randomized_regions_come_from_other_images_and_the_rest_stays():
    images, _, _ = _batch()
    ignore = torch.zeros(4, 8, 8)
    ignore[:, :, 6:] = 1.0
    out = randomize_ignored(images, ignore, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :, :, :6], images[:, :, :, :6])
    assert all(out[i, 0, 0, 7].item() != images[i, 0, 0, 7].item() for i in range(4))


def test_input_gradient_share_is_zero_where_nothing_is_ignored_and_positive_where_something_is():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 2, 3, padding=1)
    inputs = torch.randn(2, 3, 8, 8, requires_grad=True)
    logits = conv(inputs).mean(dim=(2, 3))
    ignore = torch.zeros(2, 8, 8)
    ignore[1, :, :4] = 1.0
    share = input_gradient_share(torch.log_softmax(logits, 1).sum(), inputs, ignore)
    assert share[0].item() == 0.0 and 0.2 < share[1].item() < 0.8
    share[1].backward()  # differentiable: it can train the weights
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_uniform_loss_is_zero_only_for_uniform_predictions():
    assert uniform_loss(torch.zeros(3, 4)).abs().item() < 1e-6
    assert uniform_loss(torch.tensor([[5.0, 0.0]])).item() > 0.5


def test_a_fitted_object_takes_the_place_and_size_of_the_target_and_keeps_its_colour():
    images = torch.zeros(1, 3, 32, 32)
    objects = torch.zeros(1, 32, 32)
    images[0, :, 2:6, 2:6], objects[0, 2:6, 2:6] = 7.0, 1.0  # 4x4 top left
    target = torch.zeros(1, 32, 32)
    target[0, 20:28, 20:28] = 1.0  # 8x8 bottom right
    moved, mask = fit_objects(images, objects, target)
    ys, xs = torch.nonzero(mask[0], as_tuple=True)
    assert 49 <= int(mask.sum()) <= 81 and abs(ys.float().mean() - 23.5) < 1 and abs(xs.float().mean() - 23.5) < 1
    assert torch.allclose(moved[0][:, mask[0] > 0], torch.tensor(7.0), atol=1e-4)
    huge = torch.ones(1, 32, 32)  # growth is capped: at most twice the side
    assert int(fit_objects(images, objects, huge)[1].sum()) <= 64


def test_fitted_pasting_moves_objects_onto_the_partner_object_s_place():
    images, objects, labels = _batch()
    objects[1], objects[3] = 0.0, 0.0
    images[1, :, 2:4, 2:4], images[3, :, 2:4, 2:4] = 1.0, 3.0
    objects[1, 5:7, 5:7], objects[3, 5:7, 5:7] = 1.0, 1.0  # the class-1 objects sit elsewhere
    images[1, :, 5:7, 5:7], images[3, :, 5:7, 5:7] = 11.0, 13.0
    plain, source, _ = paste_on_partners(images, objects, labels, torch.Generator().manual_seed(0))
    fitted, again, _ = paste_on_partners(images, objects, labels, torch.Generator().manual_seed(0), fit=True)
    assert torch.equal(source, again)
    for i in (0, 2):  # a class-0 object lands where its class-1 partner's object was, not where it sat
        assert fitted[i, 0, 5, 5] == 10.0 + i and plain[i, 0, 2, 2] == 10.0 + i
        assert fitted[i, 0, 2, 2] == float(int(source[i]))  # its old place shows the partner's background


def test_a_cut_object_keeps_its_own_pixels_at_the_smaller_partner_s_size_and_place_on_its_own_background():
    images = torch.full((2, 3, 16, 16), 0.3)  # class 0's background
    objects = torch.zeros(2, 16, 16)
    objects[0, 2:10, 2:10] = 1.0  # class 0: an 8x8 object, pixel values all distinct
    images[0, :, 2:10, 2:10] = 1.0 + torch.arange(3 * 64, dtype=torch.float32).reshape(3, 8, 8) / 1000
    objects[1, 10:14, 11:15] = 1.0  # class 1: a 4x4 object on another background
    images[1] = 0.5
    images[1, :, 10:14, 11:15] = 0.9
    cut, source, _ = cut_on_partners(images, objects, torch.tensor([0, 1]), torch.Generator().manual_seed(0))
    assert source.tolist() == [1, -1]  # only the larger object is cut down; the smaller has no smaller partner
    placed = (cut[0, 0] - 0.3).abs() > 1e-4
    assert torch.allclose(cut[0, :, ~placed], torch.tensor(0.3))  # elsewhere its own background, emptied
    assert 9 <= int(placed.sum()) <= 16  # peeled to the partner's 16 pixels or just under
    rows, cols = torch.nonzero(placed, as_tuple=True)
    assert abs(rows.float().mean() - 11.5) <= 1 and abs(cols.float().mean() - 12.5) <= 1  # at the partner's place
    assert set(cut[0, 0][placed].tolist()) <= set(images[0, 0][objects[0] > 0].tolist())  # never resampled
    assert torch.equal(cut_down(objects[:1], torch.tensor([200.0])), objects[:1])  # already small enough
