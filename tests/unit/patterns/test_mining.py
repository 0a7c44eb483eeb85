"""Pattern mining from winners, and pattern type classification."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agents.patterns.mining import (
    Winner,
    additions,
    classify_pattern_type,
    mine_patterns,
    winners_from_results,
)
from promptopt.commands.patterns import app

WINNERS = [
    Winner("e1", "Classify {{review}}. Cite the exact words from the text that support your answer.",
           "Classify {{review}}.", 0.3),
    Winner("e2", "Summarize {{doc}}. Quote the words from the text that support each point.",
           "Summarize {{doc}}.", 0.2),
    Winner("e3", "Answer {{q}}. Cite the exact words from the document that support your answer.",
           "Answer {{q}}.", 0.25),
    Winner("e4", "Write a tagline for {{product}}. Use a pun on the product name.",
           "Write a tagline for {{product}}.", 0.1),
    Winner("e4", "Write a tagline for {{product}}. Use a pun on the brand name.",
           "Write a tagline for {{product}}.", 0.1),
    Winner("e6", "Explain {{x}}. You are an expert teacher. Think step by step.",
           "Explain {{x}}.", 0.2),
]


def test_additions_skip_control_text_and_known_patterns():
    assert additions(WINNERS[5]) == []  # role and chain of thought are library patterns
    assert additions(WINNERS[0]) == ["Cite the exact words from the text that support your answer."]


def test_recurring_additions_across_experiments_become_candidates():
    mined = mine_patterns(WINNERS)
    assert [m.support for m in mined] == [3]  # the pun idea recurs in one experiment only
    citing = mined[0]
    assert set(citing.experiments) == {"e1", "e2", "e3"}
    assert citing.template.startswith("$prompt\n\n") and "support" in citing.template
    assert any("exact words" in p for p in citing.phrases)
    assert abs(citing.mean_lift - 0.25) < 1e-9
    assert [m.support for m in mine_patterns(WINNERS, min_support=1)][:2] == [3, 1]


def test_pattern_type_is_classified_from_the_library():
    assert classify_pattern_type("Think step by step before you answer") == "reasoning"
    assert classify_pattern_type("Respond with only a JSON object with keys a and b") == "format"
    assert classify_pattern_type("You are a seasoned tax lawyer") == "persona"


def _result(exp: str, winner_prompt: str) -> dict:
    control = {"variation_id": f"{exp}-c", "prompt": "Classify {{review}}.", "patterns": []}
    winner = {"variation_id": f"{exp}-w", "prompt": winner_prompt, "patterns": []}
    return {"experiment_id": exp, "rounds": [{"variations": [control, winner]}],
            "final_analyses": [{"alpha": 0.05, "winner_id": f"{exp}-w", "variations": [
                {"variation_id": f"{exp}-c", "is_control": True},
                {"variation_id": f"{exp}-w", "is_control": False, "p_adjusted": 0.01,
                 "lift": 0.2}]}]}


def test_mine_command_reads_run_results(tmp_path):
    paths = []
    for i in range(2):
        path = tmp_path / f"r{i}.json"
        path.write_text(json.dumps(_result(f"x{i}", WINNERS[i].prompt)))
        paths.append(str(path))
    assert len(winners_from_results(json.loads(Path(p).read_text()) for p in paths)) == 2
    result = CliRunner().invoke(app, ["mine", *paths])
    assert result.exit_code == 0, result.output
    mined = json.loads(result.stdout)
    assert len(mined) == 1 and mined[0]["support"] == 2
    bad = CliRunner().invoke(app, ["mine", str(tmp_path / "nope.json")])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: ")
