"""`promptopt eval`: a promptfoo config end to end on the embedded runtime and the LLM
simulator (as judge too), its outputs and its exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]

CONFIG = """
description: sentiment A/B
prompts:
  - "What do you think about this review? {{review}}"
  - label: one-word
    raw: "Classify the sentiment of this review. Respond with only one word. Review: {{review}}"
providers: [sim/small]
defaultTest:
  options: {provider: sim/judge}
  assert:
    - {type: llm-rubric, value: "says the sentiment is {{label}}", metric: judged}
tests:
  - {vars: {review: "Absolutely love this blender, great buy.", label: positive},
     assert: [{type: icontains, value: positive}]}
  - {vars: {review: "Broke after two days. Waste of money.", label: negative},
     assert: [{type: icontains, value: negative}]}
"""


def promptopt(*args: str, cwd: Path, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "promptopt.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_eval_finds_the_folder_s_config_and_writes_every_output(tmp_path):
    (tmp_path / "promptfooconfig.yaml").write_text(CONFIG)
    proc = promptopt("eval", "--no-learning", "-o", "r.json", "-o", "r.csv", "-o", "r.html",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "one-word" in proc.stdout and "judge calls" in proc.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    rows = result["results"]
    assert len(rows) == 4 and {r["arm"] for r in rows} >= {"one-word"}
    first = rows[0]
    assert first["test_case_id"] == "t1" and first["vars"]["label"] == "positive"
    assert first["response"] and first["prompt"].startswith("What do you think")
    assert [a["type"] for a in first["assertions"]] == ["llm-rubric", "icontains"]
    assert all({"passed", "score", "reason"} <= set(a) for a in first["assertions"])
    assert result["summary"]["judge_calls"] == 4 and result["summary"]["comparable"]
    assert result["summary"]["cost_usd"] > result["summary"]["trial_cost_usd"] > 0
    with (tmp_path / "r.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 and table[0]["arm"] and "score" in table[0]
    html = (tmp_path / "r.html").read_text()
    assert "<script src" not in html and "stylesheet" not in html  # self-contained
    assert "Decision:" in html and "one-word" in html and "Absolutely love" in html


def test_one_prompt_without_variations_is_no_comparison_and_exits_1(tmp_path):
    path = tmp_path / "single.yaml"
    path.write_text("prompts: ['Say hello to {{name}} nicely']\nproviders: [echo]\n"
                    "tests: [{vars: {name: Ann}, assert: [{type: contains, value: Ann}]}]\n"
                    "variations: 0\n")
    proc = promptopt("eval", "-c", str(path), "--no-learning", cwd=tmp_path)
    assert proc.returncode == 1
    assert "nothing to compare" in proc.stderr


def test_every_trial_failing_exits_1_with_the_reasons_summarised(tmp_path, monkeypatch):
    path = tmp_path / "keyless.yaml"
    path.write_text("prompts: ['Say hello to {{name}} nicely', 'Greet {{name}} warmly please']\n"
                    "providers: [{id: 'openai:gpt-4o-mini', config: {apiKeyEnvar: "
                    "PROMPTOPT_TEST_UNSET_KEY}}]\n"
                    "tests: [{vars: {name: Ann}}, {vars: {name: Bo}}]\n")
    proc = promptopt("eval", "-c", str(path), "--no-learning", cwd=tmp_path)
    assert proc.returncode == 1
    assert "failed trials by reason" in proc.stdout
    assert "PROMPTOPT_TEST_UNSET_KEY" in proc.stdout and "every trial failed" in proc.stderr


def test_a_missing_grader_is_said_before_anything_runs(tmp_path):
    path = tmp_path / "nograder.yaml"
    path.write_text("prompts: ['Say hello to {{name}} nicely', 'Greet {{name}} warmly please']\n"
                    "providers: [sim/small]\n"
                    "tests: [{vars: {name: Ann}, assert: [{type: llm-rubric, value: kind}]}]\n")
    proc = promptopt("eval", "-c", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "needs a grader model" in proc.stderr
    assert "PROMPTOPT_GRADER_MODEL" in proc.stderr


KINDS = {401: "invalid_api_key", 400: "invalid_request_error", 403: "permission_denied",
         404: "model_not_found"}


@pytest.mark.parametrize("status", [401, 400, 403, 404])
def test_a_provider_refusal_is_not_retried_and_the_run_says_what_it_was(tmp_path, status):
    """The simulator refuses every call (a wrong key: 401; else reject_status): each trial
    fails at its first attempt with the provider's words and what they mean, the terminal
    groups the failures by that reason, and the run exits 1 saying so."""
    (tmp_path / "sim.yaml").write_text("api_key: not-the-key-we-send\n" if status == 401
                                       else f"reject_status: {status}\n")
    (tmp_path / "promptfooconfig.yaml").write_text(
        "prompts: ['Say hello to {{name}} nicely', 'Greet {{name}} warmly please']\n"
        "providers: [sim/small]\n"
        "tests: [{vars: {name: Ann}}, {vars: {name: Bo}}]\n")
    proc = promptopt("eval", "--no-learning", "--sim-config", "sim.yaml", "-o", "r.json",
                     cwd=tmp_path, env={"PROMPTOPT_LLM_MAX_RETRIES": "3"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out, err = " ".join(proc.stdout.split()), " ".join(proc.stderr.split())
    said = f"{KINDS[status]} (HTTP {status})"
    assert "failed trials by reason" in out and f"4 │ {said}" in out
    assert f"no comparison could be made: every trial failed: {said}" in err
    assert err.endswith("not retried: a retry cannot cure it")
    if status == 401:
        assert "refused the credentials (the key from the simulator's built-in key)" in err
    trials = json.loads((tmp_path / "r.json").read_text())["trials"]
    assert len(trials) == 4
    assert all(t["status"] == "failed" and t["attempts"] == 1 for t in trials)
    assert all(t["reason"].startswith(said) for t in trials)
