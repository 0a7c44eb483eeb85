"""A group-sequential experiment's HTML report in headless chromium: the decision names the
look it stopped at and why ("stopped for efficacy at look 2 of 3"), and each variation's look
line says which bound its z crossed, or that none was.

Two embedded runs on the LLM simulator, 40 sentiment test cases, looks at 14, 27 and 40
pairs: a variant with every trait the simulated model rewards (right every time against the
control's one in two) stops for efficacy before the last look; the same two prompts the
other way round stop for futility. The pictures are kept as
.artifacts/group-sequential-efficacy.png and group-sequential-futility.png."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import yaml

from promptopt.embedded import run_experiment
from promptopt.experiment_file import experiment_id_for, read_experiment
from promptopt.outputs import write_outputs
from promptopt.settings import Settings

PLAIN = "What is the sentiment of this review? {{review}}"  # q = 0.5 on sim:medium
# Role, step by step, examples, output format, delimiters: q = 1.
TUNED = ("You are an expert analyst. Think step by step. Examples: \"great buy\" -> "
         "positive. Respond with only one word: the sentiment of the review in "
         "<text>{{review}}</text>")

GOOD = ("love", "great", "excellent", "wonderful", "fantastic")
BAD = ("terrible", "awful", "hate", "worst", "poor")
THINGS = ("blender", "kettle", "lamp", "chair")


def _reviews() -> list[dict]:
    """40 distinct reviews with clear labels, so every trial draws its own answer."""
    tests = []
    for (word, label), thing in itertools.product(
            [(w, "positive") for w in GOOD] + [(w, "negative") for w in BAD], THINGS):
        tests.append({"vars": {"review": f"The {thing} is {word}.", "label": label},
                      "assert": [{"type": "icontains", "value": "{{label}}"}]})
    return tests


def _config(tmp_path: Path, name: str, prompts: list[str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "promptfooconfig.yaml").write_text(yaml.safe_dump({
        "description": f"group-sequential {name}", "prompts": prompts,
        "providers": ["sim:medium"], "tests": _reviews(),
        "design": "group-sequential", "looks": 3, "metric": "pass"}))
    return folder


async def _report(tmp_path: Path, name: str, prompts: list[str]):
    spec = read_experiment(_config(tmp_path, name, prompts)).spec
    result = await run_experiment(spec, experiment_id_for(spec), settings=Settings(),
                                  timeout_s=120)
    [final] = result.finals()
    [report] = write_outputs(result, [tmp_path / f"{name}.html"])
    return final, report


async def test_the_report_says_which_look_stopped_the_experiment_and_why(
        page, screenshot, tmp_path):
    for name, prompts, bound, decision in (
            ("efficacy", [PLAIN, TUNED], "efficacy", "winner"),
            ("futility", [TUNED, PLAIN], "futility", "futile")):
        final, report = await _report(tmp_path, name, prompts)
        look = final.variations[1].group_sequential
        assert final.decision == decision, final.reason
        assert look is not None and look.crossed == bound and 1 <= look.look < look.looks
        assert final.trials_done < final.trials_expected  # stopped before the last look

        await page.goto(report.as_uri())
        text = await page.locator("#decision-1").inner_text()
        assert f"Decision: {decision}" in text
        assert f"stopped for {bound}" in text and f"at look {look.look} of 3" in text
        pairs = (14, 27, 40)[look.look - 1]
        assert f"group-sequential look {look.look} of 3 at {pairs} pairs" in text
        said = {"efficacy": "crossed the efficacy bound", "futility":
                "fell below the futility bound"}[bound]
        assert re.search(rf"z -?\d+\.\d\d {said} z=", text), text
        [line] = await page.locator("#looks-1 li").all_inner_texts()
        assert line.startswith(f"{final.variations[1].name}: group-sequential look "
                               f"{look.look} of 3 at {pairs} pairs")
        assert line.endswith({"efficacy": "crossed the efficacy bound",
                              "futility": "below the futility bound (non-binding)"}[bound])
        await screenshot(page, f"group-sequential-{name}")
