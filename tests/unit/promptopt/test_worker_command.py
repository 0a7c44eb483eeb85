"""`promptopt worker --role`: an unknown role is a usage error naming the roles, before any
server is contacted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]


def test_an_unknown_role_is_refused_with_the_known_ones():
    done = subprocess.run(
        [sys.executable, "-m", "promptopt.cli", "worker", "--role", "trials,judge"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    said = " ".join(done.stderr.replace("│", " ").split())  # rich wraps it in a box
    assert done.returncode == 2
    assert "'judge'" in said and "known: optimizer, trials, scorer, patterns, sinks" in said
