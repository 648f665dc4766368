from backend.labelstudio.client import annotated_ids, annotated_labels
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.templates import render_template

CONFIG = LabelConfig.parse(render_template("click", ["cat", "dog"]))


def _choice(name: str) -> dict:
    return {"from_name": CONFIG.choices_name, "to_name": CONFIG.image_name, "type": "choices", "value": {"choices": [name]}}


def test_annotated_tasks_and_their_labels():
    tasks = [
        {"id": 1, "data": {"image": "a.png"}, "annotations": [{"id": 10, "result": [_choice("dog")]}]},
        {"id": 2, "data": {"image": "b.png"}, "annotations": [{"id": 11, "was_cancelled": True, "result": [_choice("cat")]}]},
        {"id": 3, "data": {"image": "c.png"}, "annotations": []},
        {"id": 4, "data": {"image": "d.png"}, "annotations": [{"id": 12, "result": []}]},  # annotated, no class
    ]
    assert annotated_ids(tasks) == {1, 4}
    assert annotated_labels(tasks, CONFIG) == {1: 1}


def test_a_label_studio_that_answers_429_is_asked_again_after_a_back_off():
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from backend.labelstudio.client import connect

    asked = []

    class Busy(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            asked.append(self.path)
            if len(asked) <= 2:
                self.send_response(429)
                self.send_header("Retry-After", "0.2")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps({"id": 5, "title": "busy", "label_config": "<View/>"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        project = connect(f"http://127.0.0.1:{server.server_port}", "token", timeout=5).projects.get(5)
    finally:
        server.shutdown()
    assert project.id == 5 and len(asked) == 3
