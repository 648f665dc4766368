"""The Dockerfile and docker-compose.yml checked as files (no Docker engine runs here)."""
import re
from pathlib import Path

import yaml

from backend.settings import variables

ROOT = Path(__file__).resolve().parents[1]


def _target(volume: str) -> str:
    """The container path of a short-syntax volume (the host side may hold ``${VAR:-default}``)."""
    parts = volume.rsplit(":", 2)
    return parts[-2] if parts[-1] in ("ro", "rw") else parts[-1]


def test_compose_passes_every_setting_and_names_only_what_exists():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    [service] = compose["services"].values()
    environment = service["environment"]
    assert sorted(set(variables()) - set(environment)) == []
    assert "localhost" not in str(environment["LABEL_STUDIO_URL"])  # inside a container that is the container
    assert "host.docker.internal:host-gateway" in service["extra_hosts"]
    assert "depends_on" not in service and "links" not in service  # no service that is not defined
    mounts = {_target(volume) for volume in service["volumes"]}
    assert environment["LOCAL_FILES_DOCUMENT_ROOT"] in mounts and environment["MODEL_DIR"].startswith("/data")
    assert service["build"] == "." and (ROOT / "Dockerfile").is_file()


def test_dockerfile_copies_what_exists_and_checks_health():
    text = (ROOT / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), source
    for script in re.findall(r"python (scripts/\S+\.py)", text):
        assert (ROOT / script).is_file(), script
    assert "HEALTHCHECK" in text and "/health" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".ls-venv", "data/", "models/", ".git"} <= set(ignored)


def test_the_weights_baker_knows_the_supported_architectures():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "scripts/bake_weights.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "resnet18" in result.stdout
