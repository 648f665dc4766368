"""A person's view: Debian's Chromium (headless) logs into Label Studio and opens a task with our pre-annotations."""
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from tests.support.e2e import project_with_backend, wait_predictions
from tests.support.label_studio_server import PASSWORD, USER
from tests.support.label_studio_setup import retrieve_predictions

pytestmark = pytest.mark.label_studio
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _logged_in(playwright, url: str):
    """Headless Chromium logged into Label Studio as the demo user."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/user/login/")
    page.fill("input[name=email]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda current: "/login" not in current, timeout=60_000)
    return browser, page


def _canvas_shot(page, path: Path) -> np.ndarray:
    """The pixels of the editor's image canvas (the largest canvas), screenshot kept at ``path``."""
    boxes = [c.bounding_box() for c in page.query_selector_all("canvas")]
    boxes = [b for b in boxes if b and b["width"] > 100 and b["height"] > 100]
    assert boxes, "the editor drew no image canvas"
    box = max(boxes, key=lambda b: b["width"] * b["height"])
    page.screenshot(path=str(path))
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return image[int(box["y"]) : int(box["y"] + box["height"]), int(box["x"]) : int(box["x"] + box["width"])]


def test_heat_overlay_and_ignore_regions_are_drawn_over_the_image(stack, label_studio):
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run ./scripts/setup.sh --e2e"
    client, _, _, _, _ = stack
    pid, _ = project_with_backend(stack, label_studio, "combined", "e2e browser")
    retrieve_predictions(client, pid)
    tasks, found = wait_predictions(client, pid, "base-small_cnn-")
    version = found[tasks[0].id][0]["model_version"]
    client.projects.update(pid, model_version=version, show_collab_predictions=True)
    task = next(t for t in tasks if sum(r["value"].get("polygonlabels") == ["Ignore"] for r in found[t.id][0]["result"]) >= 2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    task_url = f"{label_studio.url}/projects/{pid}/data?task={task.id}"
    with sync_playwright() as p:
        browser, page = _logged_in(p, label_studio.url)
        page.goto(task_url)
        page.wait_for_selector("canvas", timeout=60_000)
        page.wait_for_timeout(4000)  # image decode and region rendering
        with_overlay = _canvas_shot(page, ARTIFACTS / "label_studio_task.png")
        page.keyboard.press("Control+h")  # Label Studio's "hide all regions"
        page.wait_for_timeout(1500)
        plain = _canvas_shot(page, ARTIFACTS / "label_studio_task_plain.png")
        browser.close()
    assert with_overlay.shape == plain.shape
    delta = with_overlay - plain
    redder = delta[..., 0] > 20  # the red "Attention" overlay raises red
    bluer = delta[..., 2] - delta[..., 0] > 10  # the blue "Ignore" outlines raise blue more than red (over the heat too)
    assert redder.mean() > 0.02, f"no heat overlay drawn ({redder.mean():.3f} of the image redder)"
    assert bluer.mean() > 0.002, f"no ignore regions drawn ({bluer.mean():.3f} of the image bluer)"


def test_the_annotators_screen_at_1400x900_shows_image_class_tools_and_help_without_scrolling(stack, label_studio):
    """Everything an annotator needs is above the fold; the model's outputs are not offered as tools; the model's
    class is a hint, not a ticked answer. The screenshot is the README's."""
    client, _, _, data, _ = stack
    pid, _ = project_with_backend(stack, label_studio, "combined", "e2e annotator screen")
    retrieve_predictions(client, pid)
    tasks, found = wait_predictions(client, pid, "base-small_cnn-")
    client.projects.update(pid, model_version=found[tasks[0].id][0]["model_version"], show_collab_predictions=True)
    guess = next(r for r in found[tasks[0].id][0]["result"] if r["type"] == "choices")
    assert guess["from_name"] == "model_guess"
    with sync_playwright() as p:
        browser, page = _logged_in(p, label_studio.url)
        page.goto(f"{label_studio.url}/projects/{pid}/data?task={tasks[0].id}")
        page.wait_for_selector("canvas", timeout=60_000)
        page.wait_for_timeout(4000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "label_studio_annotator_screen.png"))

        def shown(locator) -> bool:
            box = locator.bounding_box() if locator.count() and locator.is_visible() else None
            return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= 900 and box["x"] + box["width"] <= 1400

        canvas = max((c for c in page.query_selector_all("canvas") if (c.bounding_box() or {}).get("width", 0) > 100),
                     key=lambda c: c.bounding_box()["width"] * c.bounding_box()["height"])
        image = canvas.bounding_box()
        assert image["y"] + image["height"] <= 900, f"the image runs below the fold ({image})"
        for name in data.classes:
            assert shown(page.locator(f"label:has(input[name='{name}'])").first), f"class '{name}' below the fold"
        ticked = page.evaluate("""() => [...document.querySelectorAll('input[type=radio],input[type=checkbox]')]
                                         .filter(i => i.checked).map(i => i.name)""")
        ticked = [name for name in ticked if name in data.classes]
        assert ticked == [guess["value"]["choices"][0]], f"only the model's guess may be ticked, found {ticked}"
        for tool in ("focus", "ignore", "object", "Ignore", "Object"):
            assert shown(page.get_by_text(tool, exact=True).first), f"tool '{tool}' is not visible without scrolling"
        assert not page.get_by_text("Attention", exact=True).first.is_visible(), "the model's heat label is offered as a tool"
        assert shown(page.get_by_text("Press F, then click the object", exact=False).first), "no instruction on screen"
        browser.close()


def test_the_overlay_on_a_12_megapixel_photo_is_small_and_drawn(stack, label_studio):
    """A phone-sized photo (4000 x 3000 JPEG): its prediction stays a few kB and the overlay covers the photo."""
    import json

    from skimage import data as photos

    from backend.labelstudio.templates import render_template
    from tests.support.label_studio_setup import ensure_local_storage, ensure_ml_backend, ensure_project

    client, url, _, data, _ = stack
    folder = label_studio.document_root / "photos"
    folder.mkdir(exist_ok=True)
    Image.fromarray(photos.chelsea()).resize((4000, 3000), Image.BICUBIC).save(folder / "cat.jpg", quality=90)
    pid = ensure_project(client, "e2e large photo", render_template("combined", data.classes))
    ensure_local_storage(client, pid, str(folder))
    ensure_ml_backend(client, pid, url)
    retrieve_predictions(client, pid)
    tasks, found = wait_predictions(client, pid, "base-small_cnn-")
    prediction = found[tasks[0].id][0]
    assert len(json.dumps(prediction["result"])) < 30_000
    assert {r["original_width"] for r in prediction["result"] if "original_width" in r} == {4000}
    client.projects.update(pid, model_version=prediction["model_version"], show_collab_predictions=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser, page = _logged_in(p, label_studio.url)
        page.goto(f"{label_studio.url}/projects/{pid}/data?task={tasks[0].id}")
        page.wait_for_selector("canvas", timeout=60_000)
        page.wait_for_timeout(6000)  # a 12 MP photo takes a moment to decode
        with_overlay = _canvas_shot(page, ARTIFACTS / "label_studio_large_photo.png")
        page.keyboard.press("Control+h")
        page.wait_for_timeout(1500)
        plain = _canvas_shot(page, ARTIFACTS / "label_studio_large_photo_plain.png")
        browser.close()
    delta = with_overlay - plain
    assert (delta[..., 0] > 20).mean() > 0.02, "no heat overlay drawn on the large photo"


def test_annotator_places_a_focus_click_and_it_reaches_the_training_queue(stack, label_studio):
    from backend.storage.journal import AnnotationJournal
    from backend.storage.project_dir import ProjectDir

    client, _, settings, _, _ = stack
    pid, _ = project_with_backend(stack, label_studio, "click", "e2e browser round trip")
    task = sorted(client.tasks.list(project=pid), key=lambda t: t.id)[0]
    with sync_playwright() as p:
        browser, page = _logged_in(p, label_studio.url)
        page.goto(f"{label_studio.url}/projects/{pid}/data?task={task.id}")
        page.wait_for_selector("canvas", timeout=60_000)
        page.wait_for_timeout(3000)
        page.locator("label:has(input[name='vertical'])").first.click()  # the class
        boxes = [b for b in (c.bounding_box() for c in page.query_selector_all("canvas")) if b and b["width"] > 100]
        box = max(boxes, key=lambda b: b["width"] * b["height"])
        page.mouse.move(box["x"] + box["height"] * 0.1, box["y"] + box["height"] * 0.9)
        page.keyboard.press("f")  # the "focus" KeyPointLabels label's hotkey
        page.wait_for_timeout(300)
        page.mouse.click(box["x"] + box["height"] * 0.1, box["y"] + box["height"] * 0.9)  # a spot no region covers
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Submit").click()
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "label_studio_submitted.png"))
        browser.close()
    journal = AnnotationJournal(ProjectDir(settings.model_dir, pid))
    deadline = time.time() + 60
    while time.time() < deadline and str(task.id) not in journal.read()["tasks"]:
        time.sleep(0.5)
    entry = journal.read()["tasks"][str(task.id)]
    regions = entry["annotations"][-1]["result"]
    focus = [r for r in regions if r["type"] == "keypointlabels" and r["value"]["keypointlabels"] == ["focus"]]
    assert len(focus) == 1 and 0 <= focus[0]["value"]["x"] <= 100 and 0 <= focus[0]["value"]["y"] <= 100
    assert any(r["type"] == "choices" and r["value"]["choices"] == ["vertical"] for r in regions)


def test_an_ignore_click_with_the_smart_tool_previews_the_region_training_will_use(stack, label_studio):
    """The interactive template: Auto-Annotation on, the smart keypoint tool, press I and click the image; Label Studio
    asks the backend with the click as context and offers exactly one suggestion, the superpixel training will use."""
    from backend.labelstudio.templates import render_template
    from tests.support.label_studio_setup import ensure_local_storage, ensure_ml_backend, ensure_project

    client, url, _, data, _ = stack
    pid = ensure_project(client, "e2e interactive ignore", render_template("interactive", data.classes))
    ensure_local_storage(client, pid, str(label_studio.document_root / "dataset" / "images" / "test"))
    ensure_ml_backend(client, pid, url, interactive=True)
    task = sorted(client.tasks.list(project=pid), key=lambda t: t.id)[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser, page = _logged_in(p, label_studio.url)
        page.goto(f"{label_studio.url}/projects/{pid}/data?task={task.id}")
        page.wait_for_selector("canvas", timeout=60_000)
        page.wait_for_timeout(3000)
        page.get_by_text("Auto-Annotation", exact=True).first.click()  # the bottom bar's switch
        page.wait_for_timeout(500)
        page.locator(".lsf-toolbar button.lsf-tool_smart:visible").last.click()  # the smart keypoint tool
        page.wait_for_timeout(500)
        boxes = [b for b in (c.bounding_box() for c in page.query_selector_all("canvas")) if b and b["width"] > 100]
        box = max(boxes, key=lambda b: b["width"] * b["height"])
        before = _canvas_shot(page, ARTIFACTS / "label_studio_interactive_before.png")
        page.keyboard.press("i")
        page.wait_for_timeout(300)
        page.mouse.click(box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.15)  # background, top left
        page.get_by_text("1 suggestions", exact=False).first.wait_for(timeout=30_000)  # one region, no duplicates
        page.wait_for_timeout(1000)
        after = _canvas_shot(page, ARTIFACTS / "label_studio_interactive.png")
        browser.close()
    h, w = after.shape[:2]
    corner = (after - before)[: h // 3, : w // 3]
    assert ((corner[..., 2] - corner[..., 0]) > 10).mean() > 0.01, "no blue suggestion drawn around the click"
