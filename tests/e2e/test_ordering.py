"""The annotation queue pushed into a real Label Studio."""
import subprocess
import sys

import numpy as np
import pytest
import requests
from label_studio_sdk import LabelStudio

from backend.http.server import create_app
from backend.labelstudio.client import VIEW_TITLE, project_tasks
from backend.labelstudio.instructions import MARK, report_address
from backend.labelstudio.templates import render_template
from backend.models.checkpoints import save_checkpoint
from backend.service.ranking import order_project
from backend.service.shortcut_report import load_reports
from backend.settings import Settings
from backend.storage.project_dir import ProjectDir
from backend.storage.queue_file import load_queue
from tests.support.label_studio_server import free_port

pytestmark = pytest.mark.label_studio
TASKS = 24


@pytest.fixture(scope="module")
def project(label_studio, biased, tmp_path_factory):
    data, model = biased
    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    created = client.projects.create(title="queue", label_config=render_template("combined", data.classes))
    storage = client.import_storage.local.create(project=created.id, path=str(label_studio.document_root / "dataset" / "images" / "shifted"),
                                                  use_blob_urls=True, title="shifted")
    client.import_storage.local.sync(id=storage.id)
    tasks = sorted(client.tasks.list(project=created.id), key=lambda t: t.id)
    for task in tasks[TASKS:]:
        client.tasks.delete(str(task.id))
    checkpoint = tmp_path_factory.mktemp("queue") / "base.pt"
    save_checkpoint(model, str(checkpoint), "small_cnn", list(data.classes), 64, "biased")
    settings = Settings.from_env(
        {}, label_studio_url=label_studio.url, label_studio_api_key=label_studio.token,
        model_dir=str(checkpoint.parent / "models"), model_path=str(checkpoint),
        local_files_document_root=str(label_studio.document_root), pretrained_weights="none", device="cpu",
    )
    return client, created.id, settings


@pytest.fixture(scope="module")
def public_url() -> str:
    """The address the report page will be served on in the browser test (a free loopback port, chosen now
    because the training run writes it into Label Studio first)."""
    return f"http://127.0.0.1:{free_port()}"


def test_dry_run_ranks_without_writing(project):
    client, pid, settings = project
    queue = order_project(settings.serving, settings.label_studio, pid, "entropy", batch_size=8, dry_run=True, progress=False).queue
    assert len(queue.order) == TASKS and queue.version.startswith("base-small_cnn-")
    assert queue.scores[str(queue.order[0])] == 1.0 and queue.scores[str(queue.order[-1])] == 0.0
    assert client.projects.get(pid).model_version in ("", None)
    assert load_queue(ProjectDir(settings.model_dir, pid)) is None


def test_queue_reaches_label_studio_in_strategy_order(project, label_studio):
    client, pid, settings = project
    ordering = order_project(settings.serving, settings.label_studio, pid, "gmm", batch_size=8, progress=False)
    queue = ordering.queue
    assert set(ordering.seconds) >= {"read", "score", "rank", "push"} and ordering.seconds["push_tasks_per_second"] > 0
    assert client.projects.get(pid).model_version == queue.version
    predictions = list(client.predictions.list(task=queue.order[0]))
    assert len(predictions) == 1 and predictions[0].model_version == queue.version and predictions[0].score == 1.0
    types = {r["type"] for r in predictions[0].result}
    assert types == {"choices", "polygonlabels"}
    views = [v for v in client.views.list(project=pid) if (v.data or {}).get("title") == VIEW_TITLE]
    assert len(views) == 1
    headers = {"Authorization": f"Token {label_studio.token}"}
    served = requests.get(f"{label_studio.url}/api/projects/{pid}/next/", params={"view": views[0].id}, headers=headers, timeout=30)
    assert served.status_code == 200 and served.json()["id"] == queue.order[0]
    predicted = [client.predictions.list(task=t)[0].result[0]["value"]["choices"][0] for t in queue.order[:8]]
    assert len(set(predicted)) == 2  # the first batch holds both predicted classes
    app = create_app(settings).test_client()
    task = client.tasks.get(str(queue.order[3]))
    response = app.post("/predict", json={"tasks": [{"id": task.id, "data": task.data}], "project": pid,
                                          "label_config": client.projects.get(pid).label_config})
    assert response.json["results"][0]["score"] == queue.scores[str(task.id)]  # /predict agrees with the queue
    assert not client.projects.get(pid).expert_instruction  # no PUBLIC_URL: the instructions are left alone
    again = order_project(settings.serving, settings.label_studio, pid, "gmm", batch_size=8, progress=False,
                          public_url="https://ml.example.org")
    assert len(again.queue.order) == TASKS  # a second run reuses the view (below) and links the base's report
    assert f'href="{report_address("https://ml.example.org", pid)}"' in client.projects.get(pid).expert_instruction
    assert len([v for v in client.views.list(project=pid) if (v.data or {}).get("title") == VIEW_TITLE]) == 1


def test_annotated_tasks_leave_the_queue_and_similar_tasks_lead(project):
    client, pid, settings = project
    queue = order_project(settings.serving, settings.label_studio, pid, "entropy", batch_size=8, dry_run=True, progress=False).queue
    first = queue.order[0]
    client.annotations.create(id=first, result=[{"from_name": "class", "to_name": "image", "type": "choices",
                                                 "value": {"choices": ["vertical"]}}])
    assert [t["id"] for t in project_tasks(client, pid, annotated_only=True)] == [first]  # what a training run reads
    read = project_tasks(client, pid)  # ... and with a queue to keep: every task, the annotated one in full
    assert sorted(t["id"] for t in read) == sorted(queue.order) and [t["id"] for t in read if t["annotations"]] == [first]
    ordering = order_project(settings.serving, settings.label_studio, pid, "entropy", batch_size=8, similar_to=[first], progress=False)
    again, neighbours = ordering.queue, ordering.neighbours
    assert first not in again.order and again.scores[str(first)] == 0.0
    assert len(neighbours) == 8 and again.order[: len(neighbours)] == [t for t, _ in neighbours]
    assert all(s1 >= s2 for (_, s1), (_, s2) in zip(neighbours, neighbours[1:]))


def test_order_queue_script_dry_run(project, tmp_path):
    _, pid, settings = project
    env = {"LABEL_STUDIO_URL": settings.label_studio_url, "LABEL_STUDIO_API_KEY": settings.label_studio_api_key,
           "MODEL_DIR": settings.model_dir, "MODEL_PATH": settings.model_path,
           "LOCAL_FILES_DOCUMENT_ROOT": settings.local_files_document_root, "PRETRAINED_WEIGHTS": "none", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "scripts/order_queue.py", "--project", str(pid), "--strategy", "shortcut", "--dry-run",
                          "--top", "3", "--report"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    import json

    report = json.loads(out.stdout)
    assert report["written"] is False and len(report["head"]) == 3 and report["head"][0]["rank"] == 1
    assert "report" in report["seconds"]  # the served (base) version's shortcut report, on demand
    served = json.loads(ProjectDir(settings.model_dir, pid).shortcut_report(report["model_version"]).read_text())
    assert served["tasks"] == TASKS and served["version"].startswith("base-")
    assert settings.label_studio_api_key not in out.stdout + out.stderr


def test_backend_reorders_the_queue_after_training(project, public_url):
    client, pid, settings = project
    from backend.service.scheduler import TrainingScheduler

    settings = settings.updated(queue_strategy="gmm", queue_batch_size=8, train_steps=3, train_batch_size=8,
                                train_unlabeled_batch=0, public_url=public_url)
    client.projects.update(pid, expert_instruction="<p>Click the object, not what surrounds it.</p>")
    app = create_app(settings).test_client()
    task = client.tasks.get(str(load_queue(ProjectDir(settings.model_dir, pid)).order[0]))
    xml = client.projects.get(pid).label_config
    annotation = {"id": 99001, "result": [{"from_name": "class", "to_name": "image", "type": "choices", "value": {"choices": ["horizontal"]}},
                                          {"from_name": "clicks", "to_name": "image", "type": "keypointlabels", "original_width": 64,
                                           "original_height": 64, "value": {"x": 50, "y": 50, "width": 1, "keypointlabels": ["focus"]}}]}
    response = app.post("/webhook", json={"action": "ANNOTATION_CREATED", "annotation": annotation,
                                          "task": {"id": task.id, "data": task.data}, "project": {"id": pid, "label_config": xml}})
    assert response.json["status"] == "started"
    status = TrainingScheduler(settings).wait(pid, timeout=300)
    assert status["last_version"] == "v0001" and status.get("queue_error") == "", status
    assert set(status["stages"]) == {"sync", "train", "validate", "publish", "rank", "push", "report"}, status
    assert status["stages"]["report"]["outcome"] == "done" and status["stages"]["report"]["groups"] >= 1
    assert status["stages"]["push"]["seconds"] > 0 and status["stages"]["push"]["predictions"] == TASKS  # where the time went
    assert status["stages"]["sync"]["source"] == "label_studio" and status["stages"]["rank"]["version"] == "v0001"
    assert client.projects.get(pid).model_version == "v0001"
    instruction = client.projects.get(pid).expert_instruction  # the manager's text, then the link to the report
    assert instruction.startswith("<p>Click the object, not what surrounds it.</p>") and instruction.count(f'class="{MARK}"') == 1
    assert f'href="{report_address(public_url, pid)}"' in instruction and "model version v0001" in instruction
    assert load_queue(ProjectDir(settings.model_dir, pid)).version == "v0001"
    assert np.isfinite(status["finished"])


def test_the_shortcut_report_opens_from_label_studio_and_reads_in_a_browser(project, label_studio, public_url):
    """The page of the run above, served over HTTP: a person labeling in Label Studio opens *Instructions*, clicks
    the report's link, and reads the page in headless Chromium at the annotator's screen size."""
    import threading
    from urllib.parse import urlparse

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from tests.e2e.test_browser import ARTIFACTS, _logged_in

    client, pid, settings = project
    folder = ProjectDir(settings.model_dir, pid)
    assert folder.shortcut_report("v0001").is_file(), "the training run wrote no report"
    versions = [r["version"] for r in load_reports(folder)]  # the base's (on demand, above) and v0001's
    server = make_server("127.0.0.1", urlparse(public_url).port, create_app(settings))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser, labeling = _logged_in(p, label_studio.url)  # 1400 x 900
            labeling.goto(f"{label_studio.url}/projects/{pid}/data?labeling=1")
            labeling.get_by_role("button", name="Instructions").click(timeout=60_000)
            link = labeling.locator(f'a[href="{report_address(public_url, pid)}"]')
            link.wait_for(timeout=30_000)
            labeling.wait_for_timeout(700)  # the dialog's fade-in, for the screenshot
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            labeling.screenshot(path=str(ARTIFACTS / "label_studio_report_link.png"))
            link.click(timeout=30_000)  # Label Studio's sanitiser drops ``target``: the report opens in the same tab
            page = labeling
            page.wait_for_url(report_address(public_url, pid), timeout=30_000)
            verdict = page.inner_text("#verdict")  # one annotated object (the webhook's click): no pair to move
            assert "v0001" in verdict and "cannot be tested yet" in verdict and "no sign" not in verdict
            assert page.locator("#versions tr").count() == 1 + len(versions) and versions[-1] == "v0001"
            assert versions[-2] in page.inner_text("#trend")  # did the last batch shrink it: v0001 against the base
            assert page.evaluate("document.getElementById('examples').naturalWidth") > 0  # the PNG decodes
            assert page.evaluate("document.documentElement.scrollWidth") <= 1400  # no sideways scrolling
            page.screenshot(path=str(ARTIFACTS / "shortcut_report.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
