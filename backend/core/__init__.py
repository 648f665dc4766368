"""Pure algorithms on tensors and arrays: attention maps, superpixels, guidance losses, attention quality.

Nothing here reads settings, files, HTTP or Label Studio; every other layer builds on it.
"""
