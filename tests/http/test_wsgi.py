import subprocess
import sys


def test_a_wrong_setting_stops_the_start_naming_the_variable(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MODEL_DIR": str(tmp_path), "TRAIN_LOSS": "clik"}
    result = subprocess.run([sys.executable, "-c", "import backend.http.wsgi"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "TRAIN_LOSS is 'clik'" in result.stderr


def test_the_app_starts_with_valid_settings(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MODEL_DIR": str(tmp_path), "PRETRAINED_WEIGHTS": "none"}
    code = "import backend.http.wsgi as w; print(w.app.test_client().get('/health').json['status'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "UP", result.stderr


def test_the_command_line_entry_points_print_help_instead_of_starting(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MODEL_DIR": str(tmp_path), "PRETRAINED_WEIGHTS": "none"}
    for module in ("backend.http.wsgi", "backend.service.runner", "backend.service.training_run"):
        result = subprocess.run([sys.executable, "-m", module, "--help"], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and result.stdout.startswith(f"usage: python -m {module}"), (module, result.stderr)
