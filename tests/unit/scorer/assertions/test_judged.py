"""Model-graded assertions through the product's LLM client, with the LLM simulator as the
judge and the embedding model (expected-outputs/model-graded/*)."""

from __future__ import annotations

import pytest

from agents.llm.client import LLMClient
from agents.scorer.assertions import GradingContext, Judges, check_one, grade
from agents.trials.simulator import run_simulator
from promptopt.settings import Settings
from schemas.experiment import Assertion, ModelSpec, TestCase

JUDGE = ModelSpec(id="sim/judge")
EMBEDDER = ModelSpec(id="sim/embedder")


@pytest.fixture
async def judges():
    async with run_simulator() as sim:
        client = LLMClient(Settings(sim_base_url=sim.base_url))
        try:
            yield Judges(client, grader=JUDGE, embedder=EMBEDDER), sim
        finally:
            await client.aclose()


def ctx(**vars_) -> GradingContext:
    return GradingContext(test=TestCase(id="t", vars=vars_), prompt="What is the capital of France?")


async def test_llm_rubric_asks_the_judge_and_reads_its_json_verdict(judges):
    judge, sim = judges
    good = await check_one(Assertion(type="llm-rubric", value="Says the capital is Paris"),
                           "The capital of France is Paris.", ctx(), judge)
    bad = await check_one(Assertion(type="llm-rubric", value="Says the capital is Paris"),
                          "I do not know.", ctx(), judge)
    assert good.passed and good.score > 0.5 and "covers" in good.reason
    assert not bad.passed
    assert good.judge.calls == 1 and good.judge.cost_usd > 0 and good.judge.prompt_tokens > 0
    assert sim.simulator.requests == 2


async def test_llm_rubric_threshold_needs_the_score_too(judges):
    judge, _ = judges
    partial = await check_one(Assertion(type="llm-rubric", value="mentions Paris, Lyon, Nice "
                                        "and Lille", threshold=0.9), "Paris and Lyon", ctx(), judge)
    assert not partial.passed and partial.score == pytest.approx(0.5)


async def test_not_llm_rubric_inverts_the_verdict(judges):
    judge, _ = judges
    result = await check_one(Assertion(type="not-llm-rubric", value="mentions 'Berlin'"),
                             "Paris", ctx(), judge)
    assert result.passed


async def test_model_graded_closedqa_reads_the_final_y_or_n(judges):
    judge, _ = judges
    assert (await check_one(Assertion(type="model-graded-closedqa", value="names Paris"),
                            "Paris is the capital", ctx(), judge)).passed
    assert not (await check_one(Assertion(type="model-graded-closedqa", value="names Paris"),
                                "Rome", ctx(), judge)).passed


@pytest.mark.parametrize(("output", "category", "passed"), [
    ("Paris", "C", True),
    ("The capital is Paris, a city of two million", "B", True),
    ("The answer is 12", "D", False),
])
async def test_factuality_maps_the_judge_s_category(judges, output, category, passed):
    judge, _ = judges
    expert = "Paris" if category != "D" else "The answer is 13"
    for kind in ("factuality", "model-graded-factuality"):  # promptfoo's two names
        result = await check_one(Assertion(type=kind, value=expert), output, ctx(), judge)
        assert result.passed is passed and result.reason.startswith(f"({category})")


async def test_similar_compares_embeddings_by_cosine(judges):
    judge, _ = judges
    close = await check_one(Assertion(type="similar", value="the cat sat on the mat",
                                      threshold=0.6), "the cat sat on a mat", ctx(), judge)
    far = await check_one(Assertion(type="similar", value="the cat sat on the mat"),
                          "quarterly revenue grew", ctx(), judge)
    assert close.passed and close.score > 0.6
    assert not far.passed and far.score < 0.5
    listed = await check_one(Assertion(type="similar", value=["stock prices", "cat on a mat"],
                                       threshold=0.5), "a cat on the mat", ctx(), judge)
    assert listed.passed  # any of the values
    assert (await check_one(Assertion(type="not-similar", value="the cat sat on the mat"),
                            "quarterly revenue grew", ctx(), judge)).passed


async def test_answer_relevance_embeds_generated_questions_against_the_query(judges):
    judge, _ = judges
    result = await check_one(Assertion(type="answer-relevance", threshold=0.3),
                             "The capital of France is Paris.",
                             ctx(query="What is the capital of France?"), judge)
    assert result.passed and 0.3 <= result.score <= 1
    assert result.judge.calls == 4  # three questions, one embedding call


async def test_a_failing_judge_fails_the_assertion_and_is_not_inverted(judges):
    _, sim = judges
    sim.config = sim.config.model_copy(update={"rate_500": 1.0})
    client = LLMClient(Settings(sim_base_url=sim.base_url, llm_max_retries=0))
    try:
        result = await check_one(Assertion(type="not-llm-rubric", value="x"), "y", ctx(),
                                 Judges(client, grader=JUDGE))
    finally:
        await client.aclose()
    assert not result.passed and "judge" in result.reason


async def test_without_a_grader_the_reason_says_where_to_set_one():
    result = await check_one(Assertion(type="llm-rubric", value="is kind"), "hi", ctx(),
                             Judges(client=None))  # type: ignore[arg-type]
    assert not result.passed and "defaultTest.options.provider" in result.reason


async def test_judge_cost_adds_up_over_a_test(judges):
    judge, _ = judges
    test = TestCase(id="t", assertions=(
        Assertion(type="llm-rubric", value="mentions Paris"),
        Assertion(type="contains", value="Paris"),
        Assertion(type="similar", value="Paris is the capital", threshold=0.3)))
    graded = await grade(test, "Paris is the capital of France", ctx(), judge)
    assert graded.passed and graded.judge.calls == 2
    assert graded.judge.cost_usd == pytest.approx(sum(r.judge.cost_usd for r in graded.results))


class ScriptedJudge:
    """A judge answering from a script, to pin G-Eval's arithmetic (the simulator's lexical
    verdicts are tested below)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[list[dict]] = []

    async def complete(self, model, messages):
        from agents.llm.client import LLMResult

        self.asked.append(messages)
        return LLMResult(self.answers.pop(0), "completed", cost_usd=0.001,
                         prompt_tokens=10, completion_tokens=5)

    async def embed(self, model, texts):  # pragma: no cover - not used by g-eval
        raise AssertionError


STEPS = '{"steps": ["Read it", "Judge it"]}'


@pytest.mark.parametrize(("scores", "threshold", "score", "passed"), [
    ((7,), None, 0.7, True),        # promptfoo's default threshold is 0.7
    ((6,), None, 0.6, False),
    ((8, 4), None, 0.6, False),     # several criteria: their mean
    ((8, 4), 0.5, 0.6, True),
    ((12,), None, 1.0, True),       # out of range: kept in [0, 1]
])
async def test_g_eval_scores_out_of_ten_by_the_steps_it_wrote(scores, threshold, score, passed):
    answers = [a for s in scores for a in (STEPS, f'{{"score": {s}, "reason": "r{s}"}}')]
    judge = ScriptedJudge(*answers)
    value = "is coherent" if len(scores) == 1 else ["is coherent", "is concise"]
    result = await check_one(Assertion(type="g-eval", value=value, threshold=threshold),
                             "An answer.", ctx(), Judges(judge, grader=JUDGE))
    assert result.score == pytest.approx(score) and result.passed is passed
    assert result.judge.calls == 2 * len(scores) and result.judge.cost_usd == pytest.approx(
        0.002 * len(scores))
    evaluation = judge.asked[1][1]["content"]
    assert "1. Read it\n2. Judge it" in evaluation and "<reply>\nAn answer.\n</reply>" in evaluation
    assert "What is the capital of France?" in evaluation  # the input


async def test_g_eval_without_a_readable_score_fails_saying_so_not_inverted():
    judge = ScriptedJudge(STEPS, "I think it is fine")
    result = await check_one(Assertion(type="not-g-eval", value="is coherent"), "x", ctx(),
                             Judges(judge, grader=JUDGE))
    assert not result.passed and "no 0-10 score" in result.reason and result.judge.calls == 2


async def test_g_eval_on_the_simulator_judge(judges):
    judge, _ = judges
    good = await check_one(Assertion(type="g-eval", value="mentions Paris and France"),
                           "Paris is the capital of France.", ctx(), judge)
    bad = await check_one(Assertion(type="g-eval", value="mentions Paris and France"),
                          "I do not know.", ctx(), judge)
    assert good.passed and good.score == 1.0 and good.judge.calls == 2
    assert not bad.passed and bad.score == 0.0


MODERATOR = ModelSpec(id="sim/moderation")


async def test_moderation_fails_on_a_flagged_category_through_the_llm_client(judges):
    j, _ = judges
    j = Judges(j.client, moderator=MODERATOR)
    clean = await check_one(Assertion(type="moderation"), "Lisbon is sunny.", ctx(), j)
    assert (clean.passed, clean.score, clean.reason) == (True, 1.0,
                                                         "No moderation flags detected")
    rude = await check_one(Assertion(type="moderation"), "You are an idiot.", ctx(), j)
    assert (rude.passed, rude.score) == (False, 0.0)
    assert rude.reason == "Moderation flags detected: harassment" and rude.judge.calls == 1


async def test_moderation_checks_only_the_listed_categories(judges):
    j = Judges(judges[0].client, moderator=MODERATOR)
    only_violence = await check_one(Assertion(type="moderation", value=["violence"]),
                                    "You are an idiot.", ctx(), j)
    assert only_violence.passed and only_violence.reason == (
        "No relevant moderation flags detected")
    listed = await check_one(Assertion(type="moderation", value=["harassment", "violence"]),
                             "I will kill you, idiot.", ctx(), j)
    assert listed.reason == "Moderation flags detected: harassment, violence"


async def test_moderation_of_an_empty_output_passes_and_calls_nobody(judges):
    j = Judges(judges[0].client, moderator=MODERATOR)
    calls = judges[0].client.calls
    empty = await check_one(Assertion(type="moderation"), "", ctx(), j)
    assert (empty.passed, empty.reason) == (True, "No output to moderate")
    assert judges[0].client.calls == calls


async def test_a_failed_moderation_call_fails_and_is_not_inverted(judges):
    j = Judges(judges[0].client, moderator=ModelSpec(id="sim/moderation",
                                                     api_base="http://127.0.0.1:9/v1"))
    result = await check_one(Assertion(type="not-moderation"), "hello", ctx(), j)
    assert not result.passed and "the moderation model sim/moderation failed" in result.reason
