"""The README's promptfoo section says what is supported and what is not, truthfully:
every assertion type the scorer runs is named there and has a test; every type refused is
refused with a message saying so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptopt.experiment_file import ExperimentFileError
from promptopt.experiment_file.assertions import UNSUPPORTED_TYPES, read_assertion
from promptopt.experiment_file.files import Files
from schemas.experiment import BASE_ASSERTION_TYPES, COMPARISON_TYPES, SET_TYPE

ROOT = Path(__file__).parents[3]
README = (ROOT / "README.md").read_text()
SUPPORTED = README[README.index("- **assertions**"):README.index("Not supported (refused")]
TESTS = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*")
                  if p.is_file() and p.suffix in (".py", ".yaml") and p.name != Path(__file__).name)
TYPES = (*BASE_ASSERTION_TYPES, *COMPARISON_TYPES, SET_TYPE)


@pytest.mark.parametrize("kind", TYPES)
def test_every_supported_type_is_listed_and_tested(kind):
    assert f"`{kind}`" in SUPPORTED
    used = re.compile(rf"""type[=:]\s*["']?{re.escape(kind)}\b|["']{re.escape(kind)}["']""")
    assert used.search(TESTS), f"no test uses {kind}"


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED_TYPES))
def test_every_refused_type_is_refused_with_a_message(kind, tmp_path):
    with pytest.raises(ExperimentFileError, match="not supported"):
        read_assertion({"type": kind, "value": "x"}, "tests.0.assert.0", Files(tmp_path),
                       grader=None, embedder=None, rubric_prompt=None)
