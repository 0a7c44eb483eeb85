"""`promptopt sim-llm`: a bad config is one line on stderr and exit code 2."""

from __future__ import annotations

import subprocess
import sys


def test_invalid_config_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "sim.yaml"
    bad.write_text("rate_429: 2.5\n")  # a probability above 1
    result = subprocess.run(
        [sys.executable, "-m", "promptopt.cli", "sim-llm", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid simulator config")
    assert "rate_429" in lines[0] and "Traceback" not in result.stderr
