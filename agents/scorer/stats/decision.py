"""The decision of an analysis, from the evidence, and the sentence that explains it.

Each variation's evidence is an interval for its difference with the control at the level
adjusted for the planned family (Bonferroni: alpha / planned variations), read by the
design: the anytime-valid confidence sequence (sequential) or the fixed-horizon CI (fixed).
The rules:

- winner: some variation's interval lies above 0 (above min_effect when it is set); the
  largest lift among those wins. The direction is the interval's, never the point estimate's.
- control-best: every planned variation's interval lies below 0.
- futile (min_effect > 0): every planned variation's interval lies below min_effect: none
  can be worth shipping, so further trials are wasted (non-binding: stopping is optional).
  The group-sequential design also calls a variation futile at an interim look whose z lies
  below the futility bound (beta spending).
- otherwise running (more trials may decide) or, once every trial is in, inconclusive.

The group-sequential design decides only at its planned looks: its interval is the repeated
confidence interval of the variation's latest look, and the wording names the look and its
bounds ("group-sequential look 2 of 5, bound z=3.36").

A planned variation with no data blocks control-best and futile: nothing is known about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agents.scorer.stats.planned_looks import Look

Decision = Literal["winner", "control-best", "futile", "inconclusive", "running"]


@dataclass(frozen=True)
class Evidence:
    """One variation's evidence against the control, as the decision reads it."""

    variation_id: str
    name: str
    lift: float | None
    low: float | None  # the interval at the family level
    high: float | None
    above: bool  # the interval lies above max(0, min_effect)
    below_zero: bool  # ... below 0
    futile: bool  # ... below min_effect (> 0), or below the group-sequential futility bound
    p_value: float | None  # the p-value the design decides on, and its adjusted value
    p_adjusted: float | None
    look: Look | None = None  # group-sequential: the look the evidence is from


@dataclass(frozen=True)
class Setting:
    """What the wording needs to know about the design."""

    design: str
    final: bool
    alpha: float
    family_size: int
    min_effect: float
    correction: str
    interval_name: str  # "confidence sequence" or "CI"
    p_name: str  # "always-valid p", "p (paired-t)", ...


def decide(setting: Setting, control_id: str | None, evidence: list[Evidence]
           ) -> tuple[Decision, str | None, str]:
    """(decision, winner or control id, reason)."""
    waiting: Decision = "inconclusive" if setting.final else "running"
    if control_id is None:
        return waiting, None, "no control variation has reported a trial yet"
    if not evidence:
        return waiting, None, "no variation has enough trials to compare with the control"
    if setting.design == "fixed" and not setting.final:
        return "running", None, "fixed design: waiting for the planned sample"
    if setting.design == "group-sequential" and not any(e.look for e in evidence):
        return waiting, None, "group-sequential design: waiting for the first planned look"
    level = 100 * (1 - setting.alpha / setting.family_size)
    plural = "s" if setting.family_size != 1 else ""
    header = (f"{level:.4g}% {setting.interval_name}s, a family of {setting.family_size} "
              f"planned variation{plural}")

    winners = [e for e in evidence if e.above]
    if winners:
        best = max(winners, key=lambda e: e.lift if e.lift is not None else 0.0)
        bar = f"{setting.min_effect:g}" if setting.min_effect > 0 else "0"
        return "winner", best.variation_id, (
            f"{_stopped('efficacy', [best])}{best.name} beats the control: "
            f"{_describe(best, setting)} lies above {bar} ({header})")
    complete = len(evidence) >= setting.family_size
    listing = "; ".join(f"{e.name} {_describe(e, setting)}" for e in evidence)
    missing = "" if complete else (
        f"; {setting.family_size - len(evidence)} planned variation(s) have no data")
    if complete and all(e.below_zero for e in evidence):
        return "control-best", control_id, (
            f"{_stopped('harm', evidence)}every variation is worse than the control "
            f"({header}): {listing}")
    if complete and all(e.futile for e in evidence):
        effect = setting.min_effect
        if effect > 0 and all(e.high is not None and e.high < effect for e in evidence):
            what = f"no variation can beat the control by {effect:g}"
        else:
            what = "every variation is below its group-sequential futility bound"
        return "futile", None, (
            f"{_stopped('futility', evidence)}futile: {what} ({header}): {listing}")
    small = [e for e in evidence
             if setting.min_effect > 0 and e.low is not None and e.low > 0 and not e.above]
    prefix = "no decision yet" if not setting.final else "no significant difference"
    if small:
        prefix = (f"{', '.join(e.name for e in small)} beat the control, but not yet by the "
                  f"minimum effect {setting.min_effect:g} that matters")
    return waiting, None, f"{prefix} ({header}): {listing}{missing}"


def _describe(e: Evidence, setting: Setting) -> str:
    span = f"[{_num(e.low, '-1')}, {_num(e.high, '+1')}]"
    if setting.design == "group-sequential":
        return f"lift {_signed(e.lift)} {setting.interval_name} {span} ({_look(e.look)})"
    adjusted = "Holm" if setting.correction == "holm" else "BH"
    return (f"lift {_signed(e.lift)} {setting.interval_name} {span}, {setting.p_name} "
            f"{_p(e.p_value)} ({adjusted}-adjusted {_p(e.p_adjusted)})")


def _stopped(bound: str, evidence: list[Evidence]) -> str:
    """"stopped for efficacy at look 2 of 5: " when group-sequential looks crossed `bound`
    (the latest look among them), else nothing: the other designs have no looks."""
    looks = [e.look for e in evidence if e.look is not None and e.look.crossed == bound]
    if not looks:
        return ""
    look = max(looks, key=lambda k: k.number)
    binding = " (non-binding)" if bound == "futility" else ""
    return f"stopped for {bound}{binding} at look {look.number} of {look.of}: "


def _look(look: Look | None) -> str:
    if look is None:
        return "before its first look"
    where = f"group-sequential look {look.number} of {look.of} at {look.pairs} pairs"
    if look.exact:
        where += (f", every difference {look.mean:+.3f} (z from the exact sign test, "
                  f"p = 2^-{look.nonzero}; the interval exact for a constant sample)")
    if look.crossed == "efficacy":
        said = f"crossed the efficacy bound z={look.upper:.2f}"
    elif look.crossed == "harm":
        said = f"crossed the harm bound z={-look.upper:.2f}"
    elif look.crossed == "futility" and look.lower is not None:
        said = f"fell below the futility bound z={look.lower:.2f} (bound z={look.upper:.2f})"
    else:
        futility = "" if look.lower is None else f", futility z={look.lower:.2f}"
        held = (" (its interval still reaches 0)"
                if abs(look.z) >= look.upper else "")
        said = f"no bound crossed{held}, bound z={look.upper:.2f}{futility}"
    return f"{where}: z {look.z:.2f} {said}"


def _num(x: float | None, unbounded: str) -> str:
    return unbounded if x is None else f"{x:.3f}"


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3g}"
