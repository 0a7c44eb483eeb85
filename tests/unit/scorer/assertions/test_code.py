"""javascript and python assertions as promptfoo documents them
(expected-outputs/javascript, expected-outputs/python)."""

from __future__ import annotations

import pytest

from agents.scorer.assertions import GradingContext, check_one
from agents.scorer.assertions import code as code_module
from schemas.experiment import Assertion, TestCase

CTX = GradingContext(test=TestCase(id="t", vars={"topic": "cats"}), prompt="Tell me about cats")


async def run(kind: str, value, output: str = "Cats purr.", **extra):
    return await check_one(Assertion(type=kind, value=value, **extra), output, CTX)


@pytest.mark.parametrize("kind", ["javascript", "python"])
async def test_a_boolean_passes_or_fails(kind):
    assert (await run(kind, "'purr' in output" if kind == "python"
                      else "output.includes('purr')")).passed
    assert not (await run(kind, "len(output) > 100" if kind == "python"
                          else "output.length > 100")).passed


@pytest.mark.parametrize("kind", ["javascript", "python"])
async def test_a_number_is_the_score_passing_above_zero_or_at_the_threshold(kind):
    result = await run(kind, "0.4")
    assert result.passed and result.score == pytest.approx(0.4)
    assert not (await run(kind, "0.4", threshold=0.5)).passed
    assert not (await run(kind, "0")).passed


async def test_a_grading_result_object_is_taken_as_it_is():
    result = await run("javascript", "return {pass: false, score: 0.3, reason: 'too short'}")
    assert not result.passed and result.score == pytest.approx(0.3) and result.reason == "too short"
    py = await run("python", "{'pass': True, 'score': 0.9, 'reason': context['vars']['topic']}")
    assert py.passed and py.reason == "cats"


async def test_declarations_then_an_expression_on_one_line():
    assert (await run("javascript", "const n = output.split(' ').length; n === 2")).passed


async def test_multiline_code_is_a_function_body():
    body = "const words = output.split(' ');\nif (words.length > 1) {\n  return true;\n}\nreturn false;"
    assert (await run("javascript", body)).passed
    py_body = "words = output.split()\nreturn len(words) == 2"
    assert (await run("python", py_body)).passed


async def test_the_context_carries_vars_and_the_prompt():
    assert (await run("javascript", "context.vars.topic === 'cats' && context.prompt.includes('cats')")).passed


async def test_not_inverts_a_script():
    assert (await run("not-javascript", "output.length > 100")).passed
    assert not (await run("not-python", "True")).passed


async def test_file_scripts_travel_as_their_source():
    js = {"script": "module.exports = (output, context) => output.endsWith('.');",
          "language": "javascript"}
    assert (await run("javascript", js)).passed
    py = {"script": "def check(output, context):\n    return output.startswith('Cats')\n",
          "language": "python", "function": "check"}
    assert (await run("python", py)).passed


async def test_errors_and_timeouts_fail_the_assertion_with_the_reason():
    thrown = await run("javascript", "throw new Error('boom')")
    assert not thrown.passed and "boom" in thrown.reason
    raised = await run("python", "1/0")
    assert not raised.passed and "ZeroDivisionError" in raised.reason
    hang = await check_one(Assertion(type="javascript", value="while (true) {}\nreturn 1"),
                           "x", CTX)
    assert not hang.passed and "timed out" in hang.reason


async def test_python_is_killed_at_its_time_limit(monkeypatch):
    monkeypatch.setattr(code_module, "TIMEOUT_S", 0.5)
    with pytest.raises(code_module.ScriptError, match="timed out"):
        await code_module.run_python("__import__('time').sleep(5)", "x", {},
                                     default_function="get_assert", timeout_s=0.5)


async def test_node_runs_javascript_when_quickjs_is_missing(monkeypatch):
    import shutil

    if not shutil.which("node"):
        pytest.skip("node is not installed")  # quickjs covers the engine elsewhere
    monkeypatch.setattr(code_module, "javascript_engine", lambda: "node")
    assert await code_module.run_javascript("output.length", "four", {}) == 4


async def test_without_an_engine_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(code_module, "javascript_engine", lambda: "")
    result = await run("javascript", "true")
    assert not result.passed and "pip install quickjs" in result.reason
