"""GET /report: the shortcut report page."""
import base64

from backend.http.report_page import trend
from backend.http.server import create_app
from backend.service.shortcut_report import save_report
from backend.storage.project_dir import ProjectDir

HOSTILE = '<script>alert("x")</script>'


def _record(version, uses, share, description="12 tasks predicted 'a': 90% of the peak attention off the object"):
    group = {"description": description, "tasks": 12, "share": share, "predicted_class": "a", "off_object": 0.9,
             "annotated_objects": 3, "labelled": 3, "errors": 1, "centre": [0.8, 0.8], "extent": 0.1,
             "colour": "#e62828", "suspected": uses, "reasons": ["90% of the peak attention lies off the 3 annotated objects"],
             "examples": [7, HOSTILE]}
    return {"version": version, "tasks": 40, "uses_shortcut": uses, "swap_follows_background": 0.9 if uses else 0.1,
            "swap_follows_object": 0.1 if uses else 0.9, "affected_share": share if uses else 0.0, "groups": [group],
            "errors": [[7, 0]], "error_count": 1, "most_suspicious": [[7, 0.9]],
            "swap_flips": 40 if uses else 1, "swap_moves": 50, "cut_flips": 2, "cut_moves": 50}


def test_no_report_yet_is_a_404_and_a_missing_project_a_400(settings):
    client = create_app(settings).test_client()
    assert client.get("/report").status_code == 400
    answer = client.get("/report?project=4")
    assert answer.status_code == 404 and "QUEUE_STRATEGY" in answer.json["error"]


def test_the_page_shows_versions_groups_links_and_escapes_what_users_wrote(settings):
    settings = settings.updated(label_studio_url="http://127.0.0.1:8080")
    project = ProjectDir(settings.model_dir, 4)
    save_report(project, _record("v0001", True, 0.6, description=HOSTILE))
    save_report(project, _record("v0002", True, 0.3) | {"swap_unseen": True, "swap_flips": 10})
    project.shortcut_png.parent.mkdir(parents=True, exist_ok=True)
    project.shortcut_png.write_bytes(b"\x89PNG fake")
    answer = create_app(settings).test_client().get("/report?project=4")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "v0001" in page and "v0002" in page and "The shortcut shrank: 80% " in page and "20% with v0002" in page
    assert "objects of annotated tasks held out of its training" in page  # the newest's swap test moved unseen objects
    assert 'href="http://127.0.0.1:8080/projects/4/data?task=7"' in page
    assert base64.b64encode(b"\x89PNG fake").decode() in page


def test_basic_auth_covers_the_page(settings):
    project = ProjectDir(settings.model_dir, 4)
    save_report(project, _record("v0001", True, 0.6))
    client = create_app(settings.updated(basic_auth_user="ann", basic_auth_pass="s3cret")).test_client()
    assert client.get("/report?project=4").status_code == 401


def test_trend_says_whether_the_last_batch_removed_the_shortcut():
    assert "removed it" in trend([_record("v0001", True, 0.6), _record("v0002", False, 0.0)])
    assert "did not shrink" in trend([_record("v0001", True, 0.3), _record("v0002", True, 0.5)])
    strong, weak = ({"carrier": "object", "cut_flips": flips, "cut_moves": 100} for flips in (92, 3))
    said = trend([_record("v0001", True, 0.5) | strong, _record("v0002", True, 1.0) | weak])
    assert "shrank: 92% of the rightly classified objects cut down" in said and "3% with v0002" in said
    assert "no shortcut" in trend([_record("v0001", False, 0.0), _record("v0002", False, 0.0)])
    assert "Only one" in trend([_record("v0001", True, 0.6)])
    sized = _record("v0001", True, 0.6) | {"carrier": "object"}
    assert "by the object's size or place" in trend([sized, _record("v0002", False, 0.0)])


def test_a_shortcut_the_object_carries_is_named_in_the_verdict(settings):
    project = ProjectDir(settings.model_dir, 4)
    save_report(project, _record("v0001", True, 0.6) | {"carrier": "object", "swap_flips": 0, "swap_moves": 50,
                                                        "cut_flips": 21, "cut_moves": 50})
    page = create_app(settings).test_client().get("/report?project=4").get_data(as_text=True)
    assert "carried by the object's size or place: 21 of 50 moves" in page and "(at its own size and place: 0 of 50)" in page


def test_a_version_without_objects_to_move_is_not_tested_rather_than_clean(settings):
    """One annotated object (or objects of one class) gives the moves no pair: the page must not call that clean."""
    project = ProjectDir(settings.model_dir, 4)
    untested = {"swap_flips": 0, "swap_moves": 0, "cut_flips": 0, "cut_moves": 0}
    save_report(project, _record("base", False, 0.0) | untested)
    save_report(project, _record("v0001", False, 0.0) | untested)
    page = create_app(settings).test_client().get("/report?project=4").get_data(as_text=True)
    assert "cannot be tested yet" in page and "no sign" not in page and "objects of annotated tasks" not in page
    assert page.count("<td>not tested</td>") == 2 and "<td>no</td>" not in page
    assert "not known" in trend([_record("v0001", True, 0.6), _record("v0002", False, 0.0) | untested])
    assert "base could not be tested; v0002 uses a shortcut" in trend([_record("base", False, 0.0) | untested,
                                                                     _record("v0002", True, 0.6)])
    tested = create_app(settings).test_client()
    save_report(project, _record("v0002", False, 0.0))
    assert "no sign of a shortcut: 1 of 50 moves" in tested.get("/report?project=4").get_data(as_text=True)
