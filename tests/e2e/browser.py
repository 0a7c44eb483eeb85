"""The browser of the e2e tests: Debian's chromium (infra/chromium.sh), driven headless by the
`playwright` package's sync API with `executable_path`, so no browser download is needed.

Screenshots go to `.artifacts/` at the repository root (git-ignored; CI keeps the folder as
the run's artifacts). Everything here is plain functions the fixtures in conftest.py wrap.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / ".artifacts"

# Where Debian puts it; PROMPTOPT_CHROMIUM overrides (same as infra/chromium.sh).
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str | None:
    override = os.environ.get("PROMPTOPT_CHROMIUM")
    for path in (override, *CANDIDATES, shutil.which("chromium")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def artifact_path(name: str, suffix: str = ".png") -> Path:
    """`.artifacts/<name><suffix>`, the name made safe for a file system (test ids carry
    brackets, slashes and colons)."""
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "page"
    return ARTIFACTS / f"{safe}{suffix}"
