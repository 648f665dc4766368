import json
import os
import stat

import pytest

from backend.service.handoff import hand_over, take_over
from backend.settings import Settings, SettingsError
from backend.storage.project_dir import ProjectDir


def test_settings_reach_a_child_as_one_typed_document_with_the_secrets_only_in_its_environment(tmp_path, monkeypatch):
    settings = Settings.from_env({}, model_dir=str(tmp_path), label_studio_url="http://127.0.0.1:8080",
                                 label_studio_api_key="secret-token", basic_auth_user="ann", basic_auth_pass="s3cret",
                                 train_steps=7, allowed_image_hosts=("images.example.org",), queue_strategy="gmm")
    folder = ProjectDir(str(tmp_path), 3)
    env = hand_over(settings, folder)
    text = folder.run_settings.read_text()
    assert "secret-token" not in text and "s3cret" not in text
    assert stat.S_IMODE(os.stat(folder.run_settings).st_mode) == 0o600
    document = json.loads(text)
    assert document["train"]["steps"] == 7 and document["allowed_image_hosts"] == ["images.example.org"]
    assert env == {"LABEL_STUDIO_API_KEY": "secret-token", "BASIC_AUTH_PASS": "s3cret"}
    for name in ("LABEL_STUDIO_API_KEY", "BASIC_AUTH_PASS", "TRAIN_STEPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRAIN_STEPS", "99")  # the child's environment does not override what was handed over
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = take_over(folder.run_settings)
    assert child == settings
    assert child.training.train.steps == 7 and child.queue.strategy == "gmm" and child.label_studio.api_key == "secret-token"


def test_a_broken_or_tampered_document_is_refused_by_name(tmp_path):
    folder = ProjectDir(str(tmp_path), 3)
    with pytest.raises(SettingsError, match="cannot read"):
        take_over(folder.run_settings)
    folder.ensure()
    folder.run_settings.write_text("[1, 2]")
    with pytest.raises(SettingsError, match="no settings document"):
        take_over(folder.run_settings)
    hand_over(Settings.from_env({}, model_dir=str(tmp_path)), folder)
    document = json.loads(folder.run_settings.read_text())
    document["train"]["steps"] = -5  # validated again on arrival
    folder.run_settings.write_text(json.dumps(document))
    with pytest.raises(SettingsError, match="TRAIN_STEPS"):
        take_over(folder.run_settings)
    document["train"] = {"no_such_field": 1}
    folder.run_settings.write_text(json.dumps(document))
    with pytest.raises(SettingsError, match="not a settings document"):
        take_over(folder.run_settings)
