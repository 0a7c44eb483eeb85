"""Each deterministic assertion type against promptfoo's documented behaviour
(configuration/expected-outputs/deterministic), its not- form included."""

from __future__ import annotations

import pytest

from agents.scorer.assertions import GradingContext, check_one
from schemas.events import TokenLogprobs
from schemas.experiment import Assertion, TestCase

TEST = TestCase(id="t", vars={"city": "Paris"})


async def check(kind: str, value, output: str, **extra):
    assertion = Assertion(type=kind, value=value, **extra)
    return await check_one(assertion, output, GradingContext(test=TEST))


@pytest.mark.parametrize(
    ("kind", "value", "output", "passed"),
    [
        # equals is exact: case and whitespace count; an object compares as JSON
        ("equals", "Paris", "Paris", True),
        ("equals", "Paris", "paris", False),
        ("equals", "Paris", "Paris ", False),
        ("equals", {"a": 1}, '{"a": 1}', True),
        ("equals", {"a": 1}, "not json", False),
        ("not-equals", {"a": 1}, "not json", True),
        ("iequals", "positive", "Positive.", True),
        ("contains", "{{city}}", "I love Paris", True),  # values are templates over vars
        ("contains", "paris", "I love Paris", False),
        ("icontains", "paris", "I love Paris", True),
        ("not-contains", "London", "I love Paris", True),
        ("not-icontains", "PARIS", "I love Paris", False),
        ("contains-any", ["London", "Paris"], "I love Paris", True),
        ("contains-any", "London, Rome", "I love Paris", False),  # comma-separated string
        ("icontains-any", ["paris", "rome"], "I love PARIS", True),
        ("contains-all", ["love", "Paris"], "I love Paris", True),
        ("contains-all", ["love", "Rome"], "I love Paris", False),
        ("icontains-all", ["LOVE", "paris"], "I love Paris", True),
        ("not-contains-all", ["love", "Rome"], "I love Paris", True),
        ("starts-with", "I love", "I love Paris", True),
        ("not-starts-with", "I love", "I love Paris", False),
        ("regex", r"\d{3}-\d{4}", "call 555-1234", True),
        ("regex", r"^\d+$", "12a", False),
        ("not-regex", r"error", "all good", True),
        ("word-count", 3, "I love Paris", True),
        ("word-count", {"min": 1, "max": 2}, "I love Paris", False),
        ("word-count", {"max": 5}, "I love Paris", True),
        ("not-word-count", {"min": 10}, "I love Paris", True),
        ("is-json", None, '{"name": "Ann"}', True),
        ("is-json", None, 'Sure: {"name": "Ann"}', False),  # the whole output must parse
        ("not-is-json", None, "plain text", True),
        ("contains-json", None, 'Sure: {"name": "Ann"} done', True),
        ("contains-json", None, "no json here", False),
        ("levenshtein", "kitten", "sitting", True),  # distance 3 <= default 5
        ("length", {"max": 5}, "hello world", False),
    ],
)
async def test_each_type_and_its_inverse(kind, value, output, passed):
    result = await check(kind, value, output)
    assert result.passed is passed, result.reason
    assert result.score == (1.0 if passed else 0.0)


async def test_json_schema_values_are_objects_or_yaml_text():
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    assert (await check("is-json", schema, '{"name": "Ann"}')).passed
    bad = await check("is-json", schema, '{"age": 3}')
    assert not bad.passed and "name" in bad.reason
    yaml_schema = "type: object\nrequired: [age]"
    assert (await check("contains-json", yaml_schema, 'here {"x": 1} and {"age": 2}')).passed
    assert (await check("not-is-json", schema, '{"age": 3}')).passed
    # json-schema: the whole output (or one fenced block) must be JSON conforming to it
    assert (await check("json-schema", schema, '```json\n{"name": "Ann"}\n```')).passed
    assert not (await check("json-schema", schema, 'here {"name": "Ann"}')).passed


async def test_levenshtein_threshold_is_the_largest_distance_allowed():
    assert not (await check("levenshtein", "kitten", "sitting", threshold=2)).passed
    assert (await check("levenshtein", "kitten", "sitting", threshold=3)).passed


async def test_rouge_n_scores_unigram_recall_against_the_reference():
    result = await check("rouge-n", "the cat sat on the mat", "the cat sat on a mat")
    assert result.score == pytest.approx(5 / 6)  # 5 of the reference's 6 unigrams
    assert result.passed  # default threshold 0.75
    assert not (await check("rouge-n", "the cat sat on the mat", "a dog", threshold=0.5)).passed
    inverse = await check("not-rouge-n", "the cat sat on the mat", "the cat sat on a mat")
    assert not inverse.passed and inverse.score == pytest.approx(1 / 6)


async def test_bleu_is_sacrebleu_sentence_bleu_on_zero_to_one():
    perfect = await check("bleu", "the quick brown fox jumps over the lazy dog",
                          "The quick brown fox jumps over the lazy dog")
    assert perfect.score == pytest.approx(1.0) and perfect.passed  # lower-cased
    poor = await check("bleu", ["the quick brown fox", "a fast brown fox"], "slow red cat")
    assert poor.score < 0.5 and not poor.passed  # default threshold 0.5


async def test_readability_gives_partial_credit_below_the_bar():
    result = await check("readability", 90, "Notwithstanding considerable organisational "
                         "heterogeneity, implementation necessitated multidisciplinary "
                         "coordination.")
    assert not result.passed and 0 <= result.score < 1


async def test_latency_and_cost_check_the_call_itself():
    ctx = GradingContext(test=TEST, latency_ms=250.0, cost_usd=0.002)
    fast = await check_one(Assertion(type="latency", threshold=500), "x", ctx)
    slow = await check_one(Assertion(type="latency", threshold=100), "x", ctx)
    assert fast.passed and not slow.passed
    assert (await check_one(Assertion(type="not-latency", threshold=100), "x", ctx)).passed
    assert (await check_one(Assertion(type="cost", threshold=0.01), "x", ctx)).passed
    metric = await check_one(Assertion(type="latency", metric="ms"), "x", ctx)
    assert metric.metric_only and metric.score == 250.0 and metric.passed
    cached = await check_one(Assertion(type="latency", threshold=500), "x",
                             GradingContext(test=TEST, latency_ms=0.0, cached=True))
    assert not cached.passed and "cached" in cached.reason


# Hand-computed: log-probabilities -0.5, -1.0, -1.5 have mean -1, so perplexity = e
# (2.718281828...) and promptfoo's perplexity-score = 1 / (1 + e) = 0.268941421...
E_LOGPROBS = TokenLogprobs(total=-3.0, tokens=3)


async def test_perplexity_is_exp_of_the_mean_negative_logprob():
    ctx = GradingContext(test=TEST, logprobs=E_LOGPROBS)
    assert E_LOGPROBS.perplexity == pytest.approx(2.718281828459045)
    under = await check_one(Assertion(type="perplexity", threshold=2.72), "x", ctx)
    over = await check_one(Assertion(type="perplexity", threshold=2.71), "x", ctx)
    assert (under.passed, under.score) == (True, 1.0)
    assert (over.passed, over.score) == (False, 0.0)
    assert over.reason == "Perplexity 2.72 is greater than threshold 2.71"
    # without a threshold (or promptfoo's falsy 0) it passes and records nothing else
    assert (await check_one(Assertion(type="perplexity"), "x", ctx)).passed
    assert (await check_one(Assertion(type="perplexity", threshold=0), "x", ctx)).passed
    assert (await check_one(Assertion(type="not-perplexity", threshold=2.71), "x", ctx)).passed


async def test_perplexity_score_is_one_over_one_plus_perplexity():
    ctx = GradingContext(test=TEST, logprobs=E_LOGPROBS)
    low = await check_one(Assertion(type="perplexity-score", threshold=0.26), "x", ctx)
    high = await check_one(Assertion(type="perplexity-score", threshold=0.27), "x", ctx)
    assert low.score == pytest.approx(0.2689414213699951) and low.passed
    assert high.score == pytest.approx(0.2689414213699951) and not high.passed
    assert high.reason == "Perplexity score 0.27 is less than threshold 0.27"
    free = await check_one(Assertion(type="perplexity-score"), "x", ctx)
    assert free.passed and free.score == pytest.approx(0.2689414213699951)
    # a certain answer (every token p = 1): perplexity 1, score 1/2
    sure = GradingContext(test=TEST, logprobs=TokenLogprobs(total=0.0, tokens=5))
    assert (await check_one(Assertion(type="perplexity-score"), "x", sure)).score == 0.5


async def test_perplexity_without_logprobs_fails_saying_so_and_is_not_inverted():
    for kind in ("perplexity", "not-perplexity", "perplexity-score"):
        none = await check_one(Assertion(type=kind, threshold=2), "x", GradingContext(test=TEST))
        assert not none.passed and "log-probabilities" in none.reason


def test_a_vanishing_probability_is_an_infinite_perplexity_not_an_overflow():
    assert TokenLogprobs(total=-9999.0, tokens=1).perplexity == float("inf")


async def test_a_malformed_assertion_fails_with_its_reason_and_is_not_inverted():
    bad_regex = await check("not-regex", "(unclosed", "anything")
    assert not bad_regex.passed and "invalid regex" in bad_regex.reason
    missing = await check("contains", "{{nope}}", "anything")
    assert not missing.passed and "nope" in missing.reason
