"""The A/B report a person reads at the end of a run: one table per round."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from promptopt.results import RunSummary
from schemas.events import AnalysisReady, VariationGenerated


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _p(x: float | None) -> str:
    if x is None:
        return "-"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def make_console(stderr: bool = False) -> Console:
    """A terminal console, or a wide one when piped (rich would wrap the table at 80)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def analysis_table(analysis: AnalysisReady, *, caption: bool = True) -> Table:
    """One row per variation: n, mean with CI, lift with the interval the decision reads (at
    the family-adjusted level), raw/adjusted/always-valid p, P(best)."""
    table = Table(
        title=f"{analysis.experiment_id} - round {analysis.round}: "
              f"{analysis.trials_done}/{analysis.trials_expected} trials "
              f"({analysis.trials_failed} failed), ${analysis.cost_usd:.4f}"
              + ("" if analysis.final else " [running]"),
        title_justify="left",
        caption=f"{analysis.decision}: {analysis.reason}" if caption else None,
    )
    interval = {"fixed": "CI", "group-sequential": "RCI"}.get(analysis.design, "CS")
    level = f"{analysis.cs_level:.4g}" if analysis.cs_level is not None else "?"
    for name in ("variation", "patterns", "n", f"mean {analysis.metric}", "95% CI",
                 "lift", f"lift {interval} ({level}, family {analysis.family_size})",
                 "p (raw)", f"p adj. ({analysis.correction})", "p (always-valid)",
                 "P(best)"):
        table.add_column(name, justify="left" if name in ("variation", "patterns") else "right")
    for v in sorted(analysis.variations, key=lambda v: (not v.is_control, v.name)):
        mark = " *" if v.variation_id == analysis.winner_id else ""
        label = f"{v.name} (control)" if v.is_control and v.name != "control" else v.name
        table.add_row(
            label + mark,
            ", ".join(v.patterns) or "-",
            str(v.n),
            _fmt(v.mean),
            f"[{_fmt(v.ci_low)}, {_fmt(v.ci_high)}]",
            "-" if v.is_control else _fmt(v.lift),
            "-" if v.is_control or v.cs_low is None else f"[{_fmt(v.cs_low)}, {_fmt(v.cs_high)}]",
            "-" if v.is_control else _p(v.p_value),
            "-" if v.is_control else _p(v.p_adjusted),
            "-" if v.is_control else _p(v.p_always_valid),
            _fmt(v.p_best, 2),
        )
    return table


def look_lines(analysis: AnalysisReady) -> list[str]:
    """Where each group-sequential comparison stands: its look, z and bounds."""
    out = []
    for v in analysis.variations:
        look = v.group_sequential
        if look is None:
            continue
        if look.look == 0:
            out.append(f"{v.name}: group-sequential, before look 1 of {look.looks} "
                       f"({look.pairs} of {look.next_look_pairs} pairs)")
            continue
        z = "undefined" if look.z is None else f"{look.z:.2f}"
        futility = "" if look.futility_z is None else f", futility z={look.futility_z:.2f}"
        after = f"; next look at {look.next_look_pairs} pairs" if look.next_look_pairs else ""
        out.append(f"{v.name}: group-sequential look {look.look} of {look.looks} at "
                   f"{look.pairs} pairs, z {z}, bound z={look.efficacy_z:.2f}{futility}: "
                   f"{CROSSED[look.crossed]}{after if look.crossed is None else ''}")
    return out


# What a look's z did, as look_lines and the dashboard say it.
# A variation's crossing stops the round only as the decision says ("stopped for efficacy
# at look 2 of 5"): futility of one variation among several does not.
CROSSED = {"efficacy": "crossed the efficacy bound", "harm": "crossed the harm bound (-bound)",
           "futility": "below the futility bound (non-binding)", None: "no bound crossed"}


def render(console: Console, rounds: list[VariationGenerated], finals: list[AnalysisReady]) -> None:
    prompts = {v.variation_id: v for r in rounds for v in r.variations}
    for analysis in finals:
        table = analysis_table(analysis, caption=False)
        console.print(table)
        verdict = {
            "winner": "[bold green]winner[/]",
            "control-best": "[bold yellow]control is best[/]",
            "futile": "[bold yellow]futile[/] (no variation can reach the minimum effect)",
            "inconclusive": "[bold]inconclusive[/]",
        }.get(analysis.decision, analysis.decision)
        console.print(f"decision: {verdict} - {analysis.reason}")
        for line in look_lines(analysis):
            console.print(line)
        for warning in analysis.warnings:
            console.print(f"[yellow]warning: {warning}[/]")
        if analysis.srm_p_value is not None and analysis.srm_p_value < 0.001:
            console.print(f"[red]sample ratio mismatch: p={analysis.srm_p_value:.2g}[/]")
        if analysis.winner_id and analysis.winner_id in prompts:
            console.print(f"winning prompt:\n[cyan]{prompts[analysis.winner_id].prompt}[/]")
        console.print()


def render_summary(console: Console, summary: RunSummary) -> None:
    """Totals, what was spent (judges and trials after an early stop included) and the
    failed trials grouped by reason."""
    console.print(
        f"trials: {summary.trials} ({summary.completed} completed, {summary.passed} passed "
        f"every assertion, {summary.failed} failed, {summary.skipped} skipped)")
    spent = f"cost: ${summary.cost_usd:.4f}"
    if summary.judge_calls:
        spent += (f" (trials ${summary.trial_cost_usd:.4f}, {summary.judge_calls} judge calls "
                  f"${summary.judge_cost_usd:.4f})")
    if summary.cost_usd > summary.analysed_cost_usd + 1e-9:
        spent += (f"; the analysis counted ${summary.analysed_cost_usd:.4f}, the rest completed"
                  " after its decision")
    console.print(spent)
    if summary.failures:
        table = Table(title="failed trials by reason", title_justify="left")
        table.add_column("trials", justify="right")
        table.add_column("reason")
        for reason, count in summary.failures:
            table.add_row(str(count), escape(reason))
        console.print(table)
    if summary.skips:
        console.print("skipped: " + "; ".join(f"{n} × {escape(r)}" for r, n in summary.skips))
