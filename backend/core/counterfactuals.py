"""Training inputs that change what the decision can depend on, built from what annotators marked.

- :func:`swap_backgrounds`: each annotated object is pasted onto the background of another annotated
  image (of another class where there is one) whose own object was removed, and keeps its label; the
  emptied backgrounds themselves are trained towards an uninformative (uniform) prediction.
- :func:`randomize_ignored`: what the annotator marked to ignore (with a box or an object mask: all
  outside it) is replaced by the same pixels of another image of the batch, so it cannot carry the class.
- :func:`paste_on_partners`: every annotated object on another annotated image's emptied background, to ask
  which of the two a decision follows (the shortcut report's test; the swap term trains on a share of them);
  with ``fit``, at the place and size of the partner's own object, so that neither can carry the class either.
- :func:`cut_on_partners`: every annotated object cut down to a smaller partner's object's area and shifted by
  whole pixels to its place, on its own emptied background: the report's test of a cue the object carries (its
  size, its place), with the object's own pixels, never resampled, and nothing else changed.
- :func:`hide_background`: part of an image's background filled by its mean colour, the object kept: the report's
  test of where in the context a decision's cue lies.
- :func:`input_gradient_share`: Right for the Right Reasons (Ross et al. 2017), normalised: the share of
  the squared input gradient of the log-probabilities that falls inside the ignored regions.

All work on normalised (B, 3, S, S) batches with (B, S, S) masks at the same size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-8
MAX_FIT = 2.0  # a fitted object grows or shrinks by at most this factor


def _dilate(masks: torch.Tensor, pixels: int = 1) -> torch.Tensor:
    return F.max_pool2d(masks.unsqueeze(1), 2 * pixels + 1, stride=1, padding=pixels).squeeze(1)


def _background_mean(images: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """(B, C, 1, 1) mean colour of each image where ``background`` ((B, 1, S, S)) is 1."""
    return (images * background).sum(dim=(2, 3), keepdim=True) / background.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)


def remove_objects(images: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
    """The images with each object (dilated by a pixel) filled by the mean colour of its own background."""
    covered = _dilate(objects).unsqueeze(1)
    background = 1.0 - covered
    return images * background + _background_mean(images, background) * covered


def hide_background(images: torch.Tensor, objects: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """The images with their background inside ``regions`` ((B, S, S) masks) filled by the mean colour of their own
    background, the object (dilated by a pixel) kept: what is left of a decision without that part of the context."""
    background = 1.0 - _dilate(objects).unsqueeze(1)
    hidden = regions.unsqueeze(1) * background
    return images * (1.0 - hidden) + _background_mean(images, background) * hidden


def partners(labels: torch.Tensor, usable: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each image, another usable image of the batch, of another class where the batch has one (-1: none)."""
    count = len(labels)
    chosen = torch.full((count,), -1, dtype=torch.long)
    pool = torch.nonzero(usable).flatten()
    for i in range(count):
        others = pool[pool != i]
        if len(others) == 0:
            continue
        different = others[labels[others] != labels[i]]
        candidates = different if len(different) else others
        chosen[i] = candidates[int(torch.randint(len(candidates), (1,), generator=generator))]
    return chosen


def object_partners(objects: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """:func:`partners` among the images with an object and a label; -1 for the others."""
    known = (objects.flatten(1).amax(1) > 0.5) & (labels >= 0)
    source = partners(labels, known, generator)
    source[~known] = -1
    return source


def _centres(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    area = masks.flatten(1).sum(1).clamp_min(1.0)
    rows = torch.arange(masks.shape[1], dtype=masks.dtype, device=masks.device)
    cols = torch.arange(masks.shape[2], dtype=masks.dtype, device=masks.device)
    return (masks.sum(2) * rows).sum(1) / area, (masks.sum(1) * cols).sum(1) / area


def fit_objects(images: torch.Tensor, objects: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image's object moved onto the centre of its target mask and scaled (aspect kept, by at most
    ``MAX_FIT``x either way) to the target's area: (images, objects) of the moved objects. An object whose size or
    place goes with its class would otherwise carry that class onto any background."""
    count, _, height, width = images.shape

    def centre(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # in affine_grid's [-1, 1] coordinates
        rows, cols = _centres(masks)
        return 2.0 * cols / max(width - 1, 1) - 1.0, 2.0 * rows / max(height - 1, 1) - 1.0

    (x_from, y_from), (x_to, y_to) = centre(objects), centre(targets)
    area_from, area_to = objects.flatten(1).sum(1).clamp_min(1.0), targets.flatten(1).sum(1).clamp_min(1.0)
    scale = (area_to / area_from).sqrt().clamp(1.0 / MAX_FIT, MAX_FIT)
    theta = torch.zeros(count, 2, 3, device=images.device)  # output position -> where to read in the source
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / scale
    theta[:, 0, 2] = x_from - x_to / scale
    theta[:, 1, 2] = y_from - y_to / scale
    grid = F.affine_grid(theta, [count, 1, height, width], align_corners=True)
    weight = objects.unsqueeze(1)  # sampled premultiplied, so the object's edge does not take its old background's colour
    moved = F.grid_sample(torch.cat([images * weight, weight], 1), grid, align_corners=True, padding_mode="zeros")
    coverage = moved[:, -1:]
    return moved[:, :-1] / coverage.clamp_min(EPS), (coverage[:, 0] > 0.5).to(objects.dtype)


def paste_on_partners(images: torch.Tensor, objects: torch.Tensor, labels: torch.Tensor,
                      generator: torch.Generator, fit: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each image with an object and a label pasted onto a partner's emptied background (of another class where
    there is one); with ``fit``, where the partner's object was and at its size (:func:`fit_objects`). Returns
    (pasted images, partner index or -1, emptied backgrounds of every image)."""
    source = object_partners(objects, labels, generator)
    emptied = remove_objects(images, objects)
    out = images.clone()
    moving = torch.nonzero(source >= 0).flatten()
    if not len(moving):
        return out, source, emptied
    pieces, masks = images[moving], objects[moving]
    if fit:
        pieces, masks = fit_objects(pieces, masks, objects[source[moving]])
    masks = masks.unsqueeze(1)
    out[moving] = pieces * masks + emptied[source[moving]] * (1 - masks)
    return out, source, emptied


def cut_down(objects: torch.Tensor, areas: torch.Tensor) -> torch.Tensor:
    """(B, S, S) masks peeled edge by edge (a pixel a step) until none is larger than its target area (or would
    vanish): the object made smaller with its own pixels."""
    masks = objects.clone()
    for _ in range(max(objects.shape[-2:]) // 2):
        peeled = 1.0 - F.max_pool2d(1.0 - masks.unsqueeze(1), 3, stride=1, padding=1).squeeze(1)
        going = (masks.flatten(1).sum(1) > areas) & (peeled.flatten(1).sum(1) > 0)
        if not going.any():
            break
        masks[going] = peeled[going]
    return masks


def shift(images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """(B, C, S, S) images moved by whole pixels (zeros where nothing comes in)."""
    count, _, height, width = images.shape
    theta = torch.zeros(count, 2, 3, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = -2.0 * cols / max(width - 1, 1)
    theta[:, 1, 2] = -2.0 * rows / max(height - 1, 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    return F.grid_sample(images, grid, mode="nearest", align_corners=True, padding_mode="zeros")


def cut_on_partners(images: torch.Tensor, objects: torch.Tensor, labels: torch.Tensor,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each image with an object and a label cut down to its partner's object's area (partners as in
    :func:`paste_on_partners`; only those with a smaller object) and shifted by whole pixels to that object's
    place, on its own emptied background: only the size and place change, so a model whose context pulls harder
    against a smaller object is not taken for one that reads size. Returns (images, partner index or -1, emptied
    backgrounds)."""
    source = object_partners(objects, labels, generator)
    area = objects.flatten(1).sum(1)
    paired = source >= 0
    smaller = torch.zeros_like(paired)
    smaller[paired] = area[source[paired]] < area[paired]
    source[~smaller] = -1
    emptied = remove_objects(images, objects)
    out = images.clone()
    moving = torch.nonzero(source >= 0).flatten()
    if not len(moving):
        return out, source, emptied
    masks = cut_down(objects[moving], area[source[moving]])
    (row_from, col_from), (row_to, col_to) = _centres(masks), _centres(objects[source[moving]])
    rows, cols = (row_to - row_from).round(), (col_to - col_from).round()
    moved = shift(torch.cat([images[moving] * masks.unsqueeze(1), masks.unsqueeze(1)], 1), rows, cols)
    pieces, masks = moved[:, :-1], moved[:, -1:]
    out[moving] = pieces + emptied[moving] * (1 - masks)
    return out, source, emptied


def swap_backgrounds(images: torch.Tensor, objects: torch.Tensor, labels: torch.Tensor, share: float,
                     generator: torch.Generator, fit: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Counterfactual batch: about ``share`` of the images with an object get another image's emptied background
    (with ``fit``, at the place and size of that image's object).

    Returns (images, blanks): the new images (labels unchanged) and the emptied backgrounds of the images
    that lent one, to be trained towards a uniform prediction.
    """
    pasted, source, emptied = paste_on_partners(images, objects, labels, generator, fit)
    picked = (source >= 0) & (torch.rand(len(labels), generator=generator) < share)
    out = torch.where(picked[:, None, None, None], pasted, images)
    lenders = torch.unique(source[picked]) if picked.any() else torch.zeros(0, dtype=torch.long)
    return out, emptied[lenders]


def randomize_ignored(images: torch.Tensor, ignore: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image's ignored pixels replaced by the same pixels of another image of the batch."""
    count = len(images)
    if count < 2:
        return images
    shift = int(torch.randint(1, count, (1,), generator=generator))
    donors = images[(torch.arange(count) + shift) % count]
    mask = ignore.unsqueeze(1)
    return images * (1 - mask) + donors * mask


def input_gradient_share(score: torch.Tensor, inputs: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
    """Per image of ``ignore`` (B, S, S; the first B inputs), the share of the squared input gradient of ``score``
    (e.g. the summed log-probabilities) that falls inside the ignored pixels; 0 where nothing is ignored.
    ``inputs`` must require grad; the result is differentiable (double backward)."""
    (gradient,) = torch.autograd.grad(score, inputs, create_graph=True)
    energy = gradient[: len(ignore)].pow(2).sum(1)
    return (energy * ignore).flatten(1).sum(1) / energy.flatten(1).sum(1).clamp_min(EPS)


def uniform_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy towards the uniform distribution minus its minimum log C: 0 when every class is equally likely."""
    return -F.log_softmax(logits, dim=1).mean(dim=1).mean() - torch.log(torch.tensor(float(logits.shape[1])))
