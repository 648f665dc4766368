"""Labeling configs for Label Studio; installed as ``backend.labelstudio.templates_data`` (package data)."""
