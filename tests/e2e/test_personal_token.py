"""A personal access token with legacy tokens switched off in Label Studio: images over HTTP, ranking's pushes and
training's reads all authenticate with Bearer access tokens exchanged from it."""
import pytest
import requests
from label_studio_sdk import LabelStudio

from backend.http.server import create_app
from backend.labelstudio.auth import LabelStudioAuth
from backend.service.ranking import order_project
from backend.service.training_run import TrainingRun
from backend.storage.project_dir import ProjectDir
from tests.support.e2e import project_with_backend

pytestmark = pytest.mark.label_studio


def _jwt_settings(url: str, authorization: str, **values: bool) -> requests.Response:
    return requests.post(f"{url}/api/jwt/settings", json=values, headers={"Authorization": authorization}, timeout=30)


def test_a_personal_access_token_works_with_legacy_tokens_off(stack, label_studio, tmp_path):
    client, _, settings, _, _ = stack
    url = label_studio.url
    legacy = f"Token {label_studio.token}"
    pid, _ = project_with_backend(stack, label_studio, "combined", "e2e personal token")
    tasks = sorted(client.tasks.list(project=pid), key=lambda t: t.id)
    assert _jwt_settings(url, legacy, api_tokens_enabled=True, legacy_api_tokens_enabled=True).ok
    created = requests.post(f"{url}/api/token/", headers={"Authorization": legacy}, timeout=30)
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    auth = LabelStudioAuth(url, token, requests.Session(), 30)
    assert auth.personal
    assert _jwt_settings(url, legacy, legacy_api_tokens_enabled=False).ok
    try:
        refused = requests.get(f"{url}/api/projects/{pid}/", headers={"Authorization": legacy}, timeout=30)
        assert refused.status_code == 401  # only the personal token opens Label Studio now
        mine = settings.updated(label_studio_api_key=token, local_files_document_root="", model_dir=str(tmp_path / "models"))
        app = create_app(mine).test_client()
        xml = LabelStudio(base_url=url, api_key=token).projects.get(pid).label_config
        response = app.post("/predict", json={"tasks": [{"id": t.id, "data": t.data} for t in tasks[:3]], "project": pid,
                                              "label_config": xml})
        assert response.status_code == 200
        assert all(r["result"] for r in response.json["results"])  # each image came from Label Studio with Bearer
        ordering = order_project(mine.serving, mine.label_studio, pid, "gmm", batch_size=4, progress=False)  # the SDK refreshes the token too
        pat_client = LabelStudio(base_url=url, api_key=token)
        assert pat_client.projects.get(pid).model_version == ordering.queue.version
        pat_client.annotations.create(id=tasks[0].id, result=[{"from_name": "class", "to_name": "image", "type": "choices",
                                                                "value": {"choices": ["vertical"]}}])
        synced = TrainingRun(ProjectDir(mine.model_dir, pid), mine.training, mine.serving, mine.queue, mine.label_studio).sync()  # training's read
        assert synced.source == "label_studio" and synced.annotated == 1
        assert token not in (tmp_path / "models").joinpath(str(pid), "annotations.json").read_text()
    finally:
        assert _jwt_settings(url, auth.header(), legacy_api_tokens_enabled=True).ok  # the other tests use the legacy token
