"""Reference metrics, from the libraries of the field: rouge-n (Google's rouge-score:
ROUGE-N recall, n = 1 as promptfoo), bleu (sacrebleu's sentence BLEU, lower-cased, on
0..1), and the trial's own measurements: latency, cost, perplexity.

sacrebleu tokenises (13a) and smooths (exp) as the BLEU literature does; promptfoo's own
BLEU splits on whitespace, so a score can differ from promptfoo's in the second decimal.
"""

from __future__ import annotations

import functools
from typing import Any

from agents.scorer.assertions.result import Check, GradingContext
from agents.scorer.assertions.text import BadAssertion
from schemas.experiment import Assertion


@functools.cache
def _rouge_scorer(n: int) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([f"rouge{n}"], use_stemmer=False)


def rouge_n(value: Any, output: str, assertion: Assertion) -> Check:
    if not isinstance(value, str) or not value:
        raise BadAssertion('"rouge-n" needs the reference text as value')
    score = _rouge_scorer(1).score(value, output)["rouge1"].recall
    threshold = assertion.threshold if assertion.threshold is not None else 0.75
    passed = score >= threshold
    return Check(passed, score, f"ROUGE-N score {score:.2f} is "
                 + ("at least" if passed else "less than") + f" threshold {threshold:g}")


def bleu(value: Any, output: str, assertion: Assertion) -> Check:
    references = [value] if isinstance(value, str) else value
    if not isinstance(references, list) or not references or not all(
            isinstance(r, str) for r in references):
        raise BadAssertion('"bleu" needs a reference string or a list of them')
    score = 0.0
    if output.strip():
        score = min(1.0, _bleu().sentence_score(output, references).score / 100)
    threshold = assertion.threshold if assertion.threshold is not None else 0.5
    passed = score >= threshold
    return Check(passed, score, f"BLEU score {score:.4f} is "
                 + ("at least" if passed else "less than") + f" threshold {threshold:g}")


@functools.cache
def _bleu() -> Any:
    from sacrebleu.metrics import BLEU

    return BLEU(lowercase=True, effective_order=True)


def latency(value: Any, output: str, assertion: Assertion, ctx: GradingContext) -> Check:
    if ctx.cached or ctx.latency_ms is None:
        raise BadAssertion("latency cannot be measured on a cached response; disable the "
                           "cache (PROMPTOPT_LLM_CACHE_PATH unset, temperature > 0) to check it")
    return _measured("Latency", ctx.latency_ms, "ms", assertion)


def cost(value: Any, output: str, assertion: Assertion, ctx: GradingContext) -> Check:
    if ctx.cost_usd is None:
        raise BadAssertion("this provider reports no cost")
    return _measured("Cost", ctx.cost_usd, " USD", assertion)


def _measured(what: str, measured: float, unit: str, assertion: Assertion) -> Check:
    if assertion.threshold is None:
        if assertion.inverse:
            raise BadAssertion(f"not-{what.lower()} needs a threshold")
        if not assertion.metric:
            raise BadAssertion(f"{what.lower()} without a threshold must name a `metric` to "
                               "record it under")
        # A measurement, not a score in [0, 1]: recorded as its named metric only.
        return Check(True, measured, f"{what} {measured:g}{unit}", metric_only=True)
    passed = measured <= assertion.threshold
    return Check.binary(passed, f"{what} {measured:g}{unit} is greater than threshold "
                                f"{assertion.threshold:g}{unit}")


# promptfoo (src/assertions): perplexity = exp(-mean token log-probability); `perplexity`
# passes at or below its threshold (score 1 or 0), `perplexity-score` is 1 / (1 +
# perplexity) and passes at or above its threshold; without a threshold both pass (a
# threshold of 0 is none, as in promptfoo).


def perplexity(value: Any, output: str, assertion: Assertion, ctx: GradingContext) -> Check:
    ppl = _perplexity(ctx)
    if not assertion.threshold:
        return Check(True, 1.0, f"Perplexity {ppl:.2f}")
    return Check.binary(ppl <= assertion.threshold,
                        f"Perplexity {ppl:.2f} is greater than threshold {assertion.threshold:g}",
                        f"Perplexity {ppl:.2f} is at most threshold {assertion.threshold:g}")


def perplexity_score(value: Any, output: str, assertion: Assertion,
                     ctx: GradingContext) -> Check:
    score = 1 / (1 + _perplexity(ctx))
    if not assertion.threshold:
        return Check(True, score, f"Perplexity score {score:.2f}")
    passed = score >= assertion.threshold
    return Check(passed, score, f"Perplexity score {score:.2f} is "
                 + ("at least" if passed else "less than") + f" threshold {assertion.threshold:g}")


def _perplexity(ctx: GradingContext) -> float:
    if ctx.logprobs is None:
        raise BadAssertion("perplexity needs the response's token log-probabilities, which "
                           "this provider did not return")
    return ctx.logprobs.perplexity
