"""Classifiers: architectures, checkpoints and their versions on disk, loading, and batched inference with attention."""
