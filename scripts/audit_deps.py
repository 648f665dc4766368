#!/usr/bin/env python
"""Check the default install against PyPI's vulnerability data (the data pip-audit reads by default).

Walks the runtime requirements of attention-guidance-backend (no extras) as installed in this
environment and asks PyPI's JSON API for each distribution's known vulnerabilities:
``/pypi/NAME/VERSION/json`` where the registry serves it, else ``/pypi/NAME/json``, whose
advisories describe the newest release and so apply when that is the installed version.
Distributions that neither answer covers are listed as unverified. Exits 1 on any known,
non-withdrawn vulnerability, 0 otherwise; --json prints the full report.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata

import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PACKAGE = "attention-guidance-backend"
PYPI = "https://pypi.org/pypi"


def runtime_closure(root: str = PACKAGE) -> dict[str, str]:
    """{canonical name: installed version} of ``root``'s runtime dependencies, recursively (extras left out)."""
    found: dict[str, str] = {}
    todo = [root]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency for another platform
        found[name] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    found.pop(canonicalize_name(root), None)
    return found


def advisories(session: requests.Session, name: str, version: str) -> tuple[str, list[dict]]:
    """(how the version was checked, its vulnerabilities) from PyPI; ("unverified: ...", []) when not covered."""
    public = version.split("+")[0]  # 2.13.0+cpu is 2.13.0 on PyPI
    try:
        response = session.get(f"{PYPI}/{name}/{public}/json", timeout=30)
        if response.status_code == 200:
            return "release", response.json().get("vulnerabilities", [])
        response = session.get(f"{PYPI}/{name}/json", timeout=30)
        if response.status_code != 200:
            return f"unverified: PyPI answered HTTP {response.status_code}", []
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        return f"unverified: {type(exc).__name__}", []
    newest = body["info"]["version"]
    if newest != public:
        return f"unverified: the registry serves advisories for the newest release ({newest}) only", []
    return "newest release", body.get("vulnerabilities", [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    args = parser.parse_args()
    session = requests.Session()
    report = []
    for name, version in sorted(runtime_closure().items()):
        how, vulns = advisories(session, name, version)
        live = [v for v in vulns if not v.get("withdrawn")]
        report.append({"name": name, "version": version, "checked": how,
                       "vulnerabilities": [{"id": v.get("id"), "aliases": v.get("aliases", []), "fixed_in": v.get("fixed_in", [])}
                                           for v in live]})
    vulnerable = [r for r in report if r["vulnerabilities"]]
    unverified = [r for r in report if r["checked"].startswith("unverified")]
    if args.json:
        print(json.dumps(report, indent=2))
    for row in vulnerable:
        for vuln in row["vulnerabilities"]:
            print(f"VULNERABLE {row['name']} {row['version']}: {vuln['id']} {' '.join(vuln['aliases'])} fixed in {vuln['fixed_in']}")
    for row in unverified:
        print(f"unverified {row['name']} {row['version']}: {row['checked'].removeprefix('unverified: ')}")
    print(f"{len(report)} distributions in the default install: {len(report) - len(unverified)} checked, "
          f"{len(vulnerable)} with known vulnerabilities, {len(unverified)} unverified")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
