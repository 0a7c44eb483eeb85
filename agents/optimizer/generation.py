"""Variation generation: the control plus pattern rewrites chosen by Thompson sampling.

Pure and deterministic: the same spec, experiment id, round and pattern statistics give the
same variations with the same ids, so a replayed prompt-submitted produces identical output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.optimizer.analysis import analyze_prompt
from agents.optimizer.model_format import model_family, optimize_for_model
from agents.optimizer.novelty import drop_near_duplicates
from agents.optimizer.selection import Pick, candidate_patterns, seeded_rng, thompson_picks
from agents.patterns.library import (
    Pattern,
    PatternNotApplicable,
    apply_pattern,
    identify_patterns,
    load_library,
)
from schemas.experiment import ExperimentSpec, PromptArm, Variation

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
MAX_LABELS = 8
# Added to the posterior draw of a pattern that fixes a detected issue: enough to put fixes
# in most rounds, not enough to beat a pattern with a strong measured record.
FIX_BONUS = 0.35
# One new pattern per variation: each variation then measures one pattern against the
# control, so a win is credited to the pattern that made it (two patterns per variation
# let a pattern that rides along with winners look good). Rounds stack the winners.
PATTERNS_PER_VARIATION = 1  # more distinct expected answers than this is not a label set


def variables(text: str | None) -> set[str]:
    return set(_VARIABLE.findall(text or ""))


def variation_id(experiment_id: str, round_: int, prompt: str, system: str | None) -> str:
    digest = hashlib.sha256(f"{prompt}\x1f{system or ''}".encode()).hexdigest()[:12]
    return f"{experiment_id}-r{round_}-{digest}"


@dataclass(frozen=True)
class Base:
    """What a round starts from: the original prompt in round 1, the measured best later."""

    prompt: str
    system: str | None
    patterns: tuple[str, ...] = ()
    rationale: str = "the original prompt, as submitted"
    models: tuple[str, ...] = ()  # the models it runs on (empty: all); candidates inherit it


@dataclass(frozen=True)
class Candidate:
    prompt: str
    system: str | None
    patterns: tuple[str, ...]
    rewrites: tuple[str, ...]
    rationale: str
    source: str = "patterns"  # or "meta-llm"
    extra: Mapping[str, Any] = field(default_factory=dict)


def template_values(spec: ExperimentSpec) -> dict[str, str]:
    """Placeholder values a spec can supply: the label set for output-format, a couple of
    examples for few-shot.

    Few-shot examples are taken from the test cases (when there are at least five with an
    expected answer), because the spec has no other source; those cases then score
    optimistically for that variation, which the rationale says.
    """
    values: dict[str, str] = {}
    expected = [t.expected.strip() for t in spec.test_cases if t.expected]
    labels = list(dict.fromkeys(expected))
    if 2 <= len(labels) <= MAX_LABELS and all(len(x.split()) <= 3 for x in labels):
        values["format"] = f"respond with only one of: {', '.join(labels)}. Nothing else."
    with_answer = [t for t in spec.test_cases if t.expected]
    if len(with_answer) >= 5:
        shown = []
        for t in with_answer[:2]:
            inputs = "; ".join(str(v) for v in t.vars.values()) or t.id
            shown.append(f"Input: {inputs}\nOutput: {t.expected}")
        values["examples"] = "\n\n".join(shown)
    return values


def incompatible_formats(spec: ExperimentSpec) -> set[str]:
    """Output patterns that would fail the spec's own checks: an answer compared for
    equality must be bare, so lists, JSON and answer lines cannot pass (unless JSON is what
    the assertions ask for)."""
    kinds = {a.type for t in spec.test_cases for a in t.every_assertion()}
    wants_json = bool(kinds & {"is-json", "json-schema"})
    blocked: set[str] = set()
    if kinds & {"equals", "iequals"}:
        blocked |= {"bullet-list", "final-answer-line", "restate-task", "detailed"}
        if not wants_json:
            blocked.add("json-output")
    if wants_json:
        blocked |= {"bullet-list", "final-answer-line", "output-format"}
    return blocked


def rewrite_kind(p: Pattern) -> str:
    if p.target == "system":
        return f"{p.id}: system message"
    if p.transform:
        return f"{p.id}: {p.transform.replace('_', ' ')}"
    template = p.template.strip()
    if template.startswith("$prompt"):
        return f"{p.id}: appended"
    if template.endswith("$prompt"):
        return f"{p.id}: prepended"
    return f"{p.id}: wrapped"


def apply_patterns(
    base: Base, patterns: Sequence[Pattern], *, domain: str, values: Mapping[str, str]
) -> tuple[str, str | None, tuple[str, ...]] | None:
    """Rewrite base with patterns: structural transforms first, then the rest in library
    order (so reasoning comes before output format). None when one does not apply or a
    rewrite would lose a {{variable}}."""
    order = {p.id: i for i, p in enumerate(load_library())}
    ordered = sorted(patterns, key=lambda p: (p.transform is None, order[p.id]))
    prompt, system = base.prompt, base.system
    for p in ordered:
        if any(name not in values for name in p.requires):
            return None  # e.g. few-shot without real examples
        try:
            applied = apply_pattern(p, prompt, system=system, values=values, domain=domain)
        except PatternNotApplicable:
            return None
        prompt, system = applied.prompt, applied.system
    if not variables(base.prompt) | variables(base.system) <= variables(prompt) | variables(system):
        return None
    return prompt, system, tuple(rewrite_kind(p) for p in ordered)


def pattern_candidates(
    spec: ExperimentSpec,
    base: Base,
    picks: Iterable[Pick],
    *,
    values: Mapping[str, str],
    fixes: Mapping[str, str] | None = None,
) -> list[Candidate]:
    """One candidate per pick; fixes maps a pattern id to the detected issue it fixes."""
    fixes = fixes or {}
    out = []
    for pick in picks:
        rewritten = apply_patterns(base, pick.patterns, domain=spec.domain, values=values)
        if rewritten is None:
            continue
        prompt, system, rewrites = rewritten
        reasons = []
        for p, d in zip(pick.patterns, pick.draws, strict=True):
            why = f"{p.name} ({p.description[0].lower()}{p.description[1:].rstrip('.')})"
            why += f"; posterior draw {d:.2f}"
            if p.id in fixes:
                why += f"; fixes '{fixes[p.id]}'"
            if p.id == "few-shot" and "examples" in values:
                why += "; examples come from the test cases, so those cases score optimistically"
            reasons.append(why)
        rationale = (
            f"Built on {base.rationale}. Adds " + "; and ".join(reasons)
            + f". Chosen by Thompson sampling for goals {', '.join(spec.goals)}."
        )
        out.append(Candidate(
            prompt, system, tuple(dict.fromkeys((*base.patterns, *(p.id for p in pick.patterns)))),
            rewrites, rationale,
        ))
    return out


def choose_picks(
    spec: ExperimentSpec,
    base: Base,
    shared: Mapping[str, Any],
    *,
    experiment_id: str,
    round_: int,
    n: int,
    fixes: Mapping[str, str] | None = None,
    tried: Iterable[frozenset[str]] = (),
) -> list[Pick]:
    fixes = fixes or {}
    model_ids = [m.id for m in spec.models]
    present = set(identify_patterns(base.prompt, base.system)) | set(base.patterns)
    present |= incompatible_formats(spec)
    candidates = candidate_patterns(spec.goals, spec.domain, model_ids, present=present,
                                    extra=fixes)
    rng = seeded_rng(experiment_id, round_)
    # Twice as many picks as needed: some rewrites do not apply or turn out near-duplicates.
    return thompson_picks(
        candidates, shared, domain=spec.domain, models=model_ids, rng=rng, n=2 * n,
        per_variation=PATTERNS_PER_VARIATION, bonus={pid: FIX_BONUS for pid in fixes},
        tried=tried,
    )


def assemble_round(
    experiment_id: str,
    round_: int,
    base: Base,
    candidates: Sequence[Candidate],
    n: int,
    *,
    control_name: str = "control",
    arms: Sequence[PromptArm] = (),
) -> list[Variation]:
    """The control first, then the user's own arms as given, then up to n candidates that
    are no near-duplicate of those or of each other, with ids from experiment, round and
    content."""
    given = [f"{base.system or ''}\n{base.prompt}"] + [f"{a.system or ''}\n{a.prompt}"
                                                       for a in arms]
    texts = given + [f"{c.system or ''}\n{c.prompt}" for c in candidates]
    kept = [i - len(given) for i in drop_near_duplicates(texts, keep_first=len(given))
            if i >= len(given)][:n]
    prefix = "v" if round_ == 1 else f"r{round_}v"
    variations = [Variation(
        variation_id=variation_id(experiment_id, round_, base.prompt, base.system),
        name=control_name, prompt=base.prompt, system=base.system, is_control=True,
        patterns=base.patterns, rationale=f"Control: {base.rationale}.", models=base.models,
    )]
    for arm in arms:
        variations.append(Variation(
            variation_id=variation_id(experiment_id, round_, arm.prompt, arm.system),
            name=arm.label, prompt=arm.prompt, system=arm.system, models=arm.models,
            rationale="given by the user",
        ))
    for i, index in enumerate(kept, 1):
        c = candidates[index]
        variations.append(Variation(
            variation_id=variation_id(experiment_id, round_, c.prompt, c.system),
            name=f"{prefix}{i}", prompt=c.prompt, system=c.system, patterns=c.patterns,
            rewrites=c.rewrites, rationale=c.rationale, models=base.models,
        ))
    return variations


def generate_round(
    spec: ExperimentSpec,
    experiment_id: str,
    shared: Mapping[str, Any],
    *,
    round_: int = 1,
    base: Base | None = None,
    fixes: Mapping[str, str] | None = None,
    tried: Iterable[frozenset[str]] = (),
    extra_candidates: Sequence[Candidate] = (),
    n: int | None = None,
) -> list[Variation]:
    """The control plus up to n (default spec.n_variations) variations, fewer after
    near-duplicate removal. extra_candidates (e.g. from the meta-optimizer) come first."""
    base = base or Base(spec.prompt, spec.system, models=spec.control_models)
    n = spec.n_variations if n is None else n
    if fixes is None:  # favour patterns that fix what the analysis finds in the base prompt
        fixes = analyze_prompt(base.prompt, base.system, tokens=False).fixes()
    values = template_values(spec)
    fixed = [*extra_candidates, *model_candidates(spec, base)]
    # The user's arms and the control's name belong to the first round.
    arms, control = (spec.arms, spec.control_label or "control") if round_ == 1 \
        else ((), "control")
    variations: list[Variation] = []
    # More pattern picks while rewrites that do not apply or come out near-duplicates leave
    # the round short: with only twice n picks, 53 of 2,000 first rounds of n = 1 had no
    # variation at all (an A/B test without a B; two integration tests failed on it).
    for draws in (n, 2 * n, 4 * n, 8 * n) if n else (0,):
        picks = choose_picks(spec, base, shared, experiment_id=experiment_id, round_=round_,
                             n=draws, fixes=fixes, tried=tried) if draws else []
        candidates = [*fixed, *pattern_candidates(spec, base, picks, values=values,
                                                  fixes=fixes)]
        variations = assemble_round(experiment_id, round_, base, candidates, n, arms=arms,
                                    control_name=control)
        if len(variations) >= 1 + len(arms) + n:
            break
    return variations


def model_candidates(spec: ExperimentSpec, base: Base) -> list[Candidate]:
    """The base laid out for its target model family (optimize_for_model), when all target
    models are of one family and the layout changes something."""
    families = {model_family(m.id) for m in spec.models}
    if len(families) != 1:
        return []
    formatted = optimize_for_model(base.prompt, base.system, spec.models[0].id)
    if not formatted.changed:
        return []
    if not variables(base.prompt) | variables(base.system) <= (
            variables(formatted.prompt) | variables(formatted.system)):
        return []
    family = formatted.family
    return [Candidate(
        formatted.prompt, formatted.system,
        tuple(dict.fromkeys((*base.patterns, *formatted.patterns))),
        tuple(f"for-model {family}: {r}" for r in formatted.rewrites),
        f"Built on {base.rationale}. Laid out for {family} models: "
        + "; ".join(formatted.rewrites) + ".",
        source="model-format",
    )]
