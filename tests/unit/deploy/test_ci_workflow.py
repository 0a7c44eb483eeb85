"""The GitHub Actions workflow, checked by actionlint (built by infra/actionlint.sh), runs
the same `make test` as the project's CI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
ACTIONLINT = ROOT / ".infra" / "bin" / "actionlint"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def actionlint() -> Path:
    if not ACTIONLINT.exists():
        message = "actionlint not installed (bash infra/actionlint.sh install)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return ACTIONLINT


def test_actionlint_finds_nothing_in_the_workflow():
    out = subprocess.run([actionlint(), "-no-color", str(WORKFLOW)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest",
                                                   "runs_on: ubuntu-latest"))
    out = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and "runs-on" in out.stdout


def test_the_workflow_runs_the_projects_own_ci_script():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["test"]["steps"]
    assert any(step.get("run") == "bash .ci/run" for step in steps)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert workflow["jobs"]["test"]["timeout-minutes"] <= 90
