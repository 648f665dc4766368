"""Set up a Label Studio project for the demo and the end-to-end tests: project, local storage, backend, webhook."""
from __future__ import annotations

from label_studio_sdk import LabelStudio

from backend.labelstudio.events import ANNOTATION_EVENTS


def ensure_project(client: LabelStudio, title: str, label_config: str) -> int:
    """The id of the project called ``title``, created with ``label_config`` if there is none."""
    for project in client.projects.list():
        if project.title == title:
            return int(project.id)
    return int(client.projects.create(title=title, label_config=label_config).id)


def ensure_local_storage(client: LabelStudio, project_id: int, folder: str, title: str = "images") -> int:
    """A local-files import storage for ``folder`` (under Label Studio's document root), synced."""
    for storage in client.import_storage.local.list(project=project_id):
        if storage.path == folder:
            client.import_storage.local.sync(id=storage.id)
            return int(storage.id)
    storage = client.import_storage.local.create(project=project_id, path=folder, use_blob_urls=True, title=title,
                                                 regex_filter=r".*\.(png|jpe?g)$")
    client.import_storage.local.sync(id=storage.id)
    return int(storage.id)


def ensure_ml_backend(client: LabelStudio, project_id: int, url: str, user: str = "", password: str = "",
                      interactive: bool = False) -> int:
    """Connect the backend at ``url`` to the project (Label Studio calls its /health and /setup); ``interactive``:
    also for the smart tools' interactive pre-annotations."""
    for backend in client.ml.list(project=project_id):
        if backend.url.rstrip("/") == url.rstrip("/"):
            return int(backend.id)
    auth = {"auth_method": "BASIC_AUTH", "basic_auth_user": user, "basic_auth_pass": password} if user else {}
    return int(client.ml.create(project=project_id, url=url, title="Attention guidance", is_interactive=interactive, **auth).id)


def ensure_webhook(client: LabelStudio, project_id: int, url: str) -> int:
    """A project webhook that sends the annotation events the backend trains on."""
    for hook in client.webhooks.list(project=project_id):
        if hook.url == url:
            return int(hook.id)
    hook = client.webhooks.create(url=url, project=project_id, send_payload=True, send_for_all_actions=False,
                                  actions=list(ANNOTATION_EVENTS))
    return int(hook.id)


def retrieve_predictions(client: LabelStudio, project_id: int) -> None:
    """Ask Label Studio to fetch predictions for every task from the connected backend."""
    client.actions.create(id="retrieve_tasks_predictions", project=project_id, selected_items={"all": True, "excluded": []})
