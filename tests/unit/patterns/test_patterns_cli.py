"""`promptopt analyze` and `promptopt patterns ...`: one JSON value on stdout; bad input is
one line on stderr and exit code 2."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agents.patterns.learning import stats_key
from promptopt.commands.analyze import app as analyze_app
from promptopt.commands.patterns import app as patterns_app

runner = CliRunner()


def _ok(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _bad(result):
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_analyze_prints_the_documented_keys():
    out = _ok(runner.invoke(analyze_app, ["Summarize this article: {{article}}", "--no-tokens"]))
    assert {"components", "clarity", "specificity", "issues", "patterns", "tokens"} <= set(out)
    codes = {i["code"] for i in out["issues"]}
    assert {"unfenced-input", "no-output-format"} <= codes
    assert all(i["explanation"] and i["fix"] for i in out["issues"])


def test_analyze_reads_stdin_and_rejects_out_of_bounds_prompts():
    out = _ok(runner.invoke(analyze_app, ["-", "--no-tokens"], input="Explain DNS to a child."))
    assert out["components"]["instruction"] == ["Explain DNS to a child."]
    _bad(runner.invoke(analyze_app, ["too short"]))
    _bad(runner.invoke(analyze_app, ["-"], input="x" * 10_001))


def test_patterns_list_search_apply_template():
    listed = _ok(runner.invoke(patterns_app, ["list"]))
    assert len(listed) >= 30
    assert all(p["goals"] for p in listed)
    creative = _ok(runner.invoke(patterns_app, ["list", "--goal", "creativity"]))
    assert creative and all("creativity" in p["goals"] for p in creative)

    hits = _ok(runner.invoke(patterns_app, ["search", "return JSON for parsing", "--limit", "3"]))
    assert hits[0]["id"] == "json-output" and len(hits) <= 3

    applied = _ok(runner.invoke(patterns_app, [
        "apply", "audience", "Explain how {{topic}} works.", "--value", "audience=nurses"]))
    assert applied["prompt"] == "Explain how {{topic}} works.\n\nWrite for nurses."

    template = _ok(runner.invoke(patterns_app, ["template", "role"]))
    assert "$prompt" in template["template"] and "role" in template["placeholders"]


def test_search_uses_measured_success_from_a_stats_file(tmp_path):
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({
        stats_key("plan-and-solve", "math", "m"): {"alpha": 30.0, "beta": 1.0},
        stats_key("chain-of-thought", "math", "m"): {"alpha": 1.0, "beta": 30.0},
    }))
    hits = _ok(runner.invoke(patterns_app, ["search", "reason step by step", "--domain", "math",
                                            "--stats", str(stats)]))
    ids = [h["id"] for h in hits]
    assert ids.index("plan-and-solve") < ids.index("chain-of-thought")


def test_patterns_errors_are_one_line_exit_2(tmp_path):
    _bad(runner.invoke(patterns_app, ["template", "no-such-pattern"]))
    _bad(runner.invoke(patterns_app, ["apply", "delimiters", "Write a haiku about the sea."]))
    _bad(runner.invoke(patterns_app, ["apply", "role", "Fix the bug in {{code}}", "--value", "x"]))
    _bad(runner.invoke(patterns_app, ["list", "--goal", "speed"]))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    _bad(runner.invoke(patterns_app, ["search", "json", "--stats", str(bad)]))
