"""`promptopt stats`: sample size, tests, p-value adjustment, SRM, Bayesian A/B, replay.

Every command prints one JSON object on stdout. Invalid input gets one line on stderr and
exit code 2: options are read as text and checked here (not by click), so a bad number
never turns into a usage screen or a traceback.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import NoReturn

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)

_RAW = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.callback()
def _group() -> None:
    """Statistics: sample size, tests, corrections, SRM, Bayesian."""


@app.command("sample-size", context_settings=_RAW)
def sample_size(ctx: typer.Context) -> None:
    """n per group for a target power, as R's power.t.test / power.prop.test.

    --test t --effect-size D [--alpha A] [--power P] [--paired]   (--paired: n of pairs)
    --test proportions --p1 X --p2 Y [--alpha A] [--power P]
    """
    from agents.scorer.stats.power import prop_test_sample_size, t_test_sample_size

    opts = _options(ctx.args, ("--test", "--effect-size", "--p1", "--p2", "--alpha", "--power"),
                    switches=("--paired",))
    a = _probability("--alpha", opts.get("--alpha", "0.05"))
    pw = _probability("--power", opts.get("--power", "0.8"))
    test = opts.get("--test", "t")
    if test == "t":
        d = _number("--effect-size", _required("--effect-size", opts.get("--effect-size")))
        paired = "--paired" in opts
        n = _guard(lambda: t_test_sample_size(d, a, pw, paired))
    elif test == "proportions":
        x = _probability("--p1", _required("--p1", opts.get("--p1")))
        y = _probability("--p2", _required("--p2", opts.get("--p2")))
        n = _guard(lambda: prop_test_sample_size(x, y, a, pw))
    else:
        _fail(f"--test must be t or proportions, got {test!r}")
    _print({"n_per_group": n, "n_per_group_ceil": math.ceil(n - 1e-9)})


@app.command(context_settings=_RAW)
def compare(ctx: typer.Context) -> None:
    """Two-sided test of a against b (differences are a minus b), in R's conventions.

    --a FILE --b FILE --test welch|student|paired-t|wilcoxon|mann-whitney [--alpha A]
    (FILE: one number per line)
    """
    from agents.scorer.stats.classic import COMPARE_TESTS
    from agents.scorer.stats.classic import compare as run_compare

    opts = _options(ctx.args, ("--a", "--b", "--test", "--alpha"))
    name = _required("--test", opts.get("--test"))
    if name not in COMPARE_TESTS:
        _fail(f"--test must be one of {', '.join(COMPARE_TESTS)}, got {name!r}")
    level = _probability("--alpha", opts.get("--alpha", "0.05"))
    x = _read_numbers("--a", _required("--a", opts.get("--a")))
    y = _read_numbers("--b", _required("--b", opts.get("--b")))
    result = _guard(lambda: run_compare(x, y, name, level))  # type: ignore[arg-type]
    _print({"statistic": result.statistic, "df": result.df, "p_value": result.p_value,
            "ci_low": result.ci_low, "ci_high": result.ci_high})


@app.command(context_settings=_RAW)
def adjust(ctx: typer.Context) -> None:
    """Adjusted p-values in input order.

    --method holm|bh P1 P2 ...
    """
    from agents.scorer.stats.multiple import Correction, adjust_p_values

    flags = _flags(ctx.args, allowed=("--method",), single=("--method",))
    method = flags.get("--method") or ["holm"]
    if len(method) != 1 or method[0] not in ("holm", "bh"):
        _fail("--method must be holm or bh")
    p_values = [_probability_closed("p-value", p) for p in flags[""]]
    if not p_values:
        _fail("give at least one p-value")
    correction: Correction = "holm" if method[0] == "holm" else "bh"
    _print({"adjusted": _guard(lambda: adjust_p_values(p_values, correction))})


@app.command(context_settings=_RAW)
def srm(ctx: typer.Context) -> None:
    """Sample-ratio mismatch (chi-square goodness of fit against the planned weights).

    --counts N1 N2 ... [--weights W1 W2 ...]   (default: equal weights)
    """
    from agents.scorer.stats.srm import srm_p_value

    flags = _flags(ctx.args, allowed=("--counts", "--weights"))
    if flags[""]:
        _fail(f"unexpected argument {flags[''][0]!r}")
    counts = [_count(c) for c in flags.get("--counts", [])]
    if not counts:
        _fail("give --counts N1 N2 ...")
    weights = None
    if "--weights" in flags:
        weights = [_number("--weights", w) for w in flags["--weights"]]
    _print({"p_value": _guard(lambda: srm_p_value(counts, weights))})


@app.command(context_settings=_RAW)
def bayes(ctx: typer.Context) -> None:
    """Beta-Binomial A/B with uniform priors: P(B beats A) and the expected losses.

    --a SUCCESSES/TRIALS --b SUCCESSES/TRIALS
    """
    from agents.scorer.stats.bayes import compare_binary

    opts = _options(ctx.args, ("--a", "--b"))
    sa, na = _fraction("--a", _required("--a", opts.get("--a")))
    sb, nb = _fraction("--b", _required("--b", opts.get("--b")))
    result = _guard(lambda: compare_binary(sa, na, sb, nb))
    _print({"p_b_beats_a": result.p_b_beats_a, "expected_loss_a": result.expected_loss_a,
            "expected_loss_b": result.expected_loss_b})


@app.command(context_settings=_RAW)
def sequential(ctx: typer.Context) -> None:
    """Replay A/B tests through the engine `promptopt run` uses.

    FILE.csv [--unpaired] [--metric score|pass] [--alpha A]
    [--design sequential|group-sequential [--looks K | --fractions 0.3,0.6,1] [--pairs N]
    [--power P]]
    CSV columns stream,a,b (a = control, b = variant), one row per pair in time order;
    with --unpaired an empty cell means no observation of that arm in that row. One JSON
    line per stream: n, first_rejection (1-based row), decision (b-better | a-better |
    none), p_always_valid, cs_low, cs_high (for the mean of b - a). The default design is
    the always-valid sequence, a look after every pair. --design group-sequential plans K
    looks (default 5) at fractions of N planned pairs (default: each stream's rows) as the
    scorer does and stops at the first bound crossed; it adds planned_pairs, looks (z and
    bounds of each), stopped_at_look, stopped_for (efficacy | harm | futility | null) and
    the near-normality warnings; cs_low/cs_high are then the repeated CI of the last look.
    """
    from promptopt.commands.replay import replay_csv, replay_group_sequential

    valued = ("--metric", "--alpha", "--design", "--looks", "--fractions", "--pairs",
              "--power")
    files = [arg for arg in ctx.args if not arg.startswith("--")]
    options = [arg for arg in ctx.args if arg.startswith("--")]
    # A file name may follow a valued option: take the option's value back out of `files`.
    opts = _options(_pair_values(ctx.args, valued), valued,
                    switches=("--unpaired",)) if options else {}
    files = [f for f in files if f not in opts.values()]
    if len(files) != 1:
        _fail("give one CSV file (columns stream,a,b)")
    metric = opts.get("--metric", "score")
    if metric not in ("score", "pass"):
        _fail(f"--metric must be score or pass, got {metric!r}")
    level = _probability("--alpha", opts.get("--alpha", "0.05"))
    design = opts.get("--design", "sequential")
    planning = [f for f in ("--looks", "--fractions", "--pairs", "--power") if f in opts]
    if design == "sequential":
        if planning:
            _fail(f"{planning[0]} plans looks: it needs --design group-sequential")
        lines = _guard(lambda: replay_csv(Path(files[0]), "--unpaired" in opts, metric, level))
    elif design == "group-sequential":
        if "--unpaired" in opts:
            _fail("--design group-sequential replays paired rows (the scorer pairs by cell); "
                  "use the default design for unpaired arms")
        timing = _planned_timing(opts)
        pairs = _count(opts["--pairs"]) if "--pairs" in opts else None
        if pairs == 0:
            _fail("--pairs must be at least 1")
        power = _probability("--power", opts.get("--power", "0.8"))
        lines = _guard(lambda: list(replay_group_sequential(
            Path(files[0]), metric, level, power, timing, pairs)))
    else:
        _fail(f"--design must be sequential or group-sequential, got {design!r}")
    for line in lines:
        print(json.dumps(line, allow_nan=False))


def _planned_timing(opts: dict[str, str]) -> tuple[float, ...]:
    """The looks of --looks K or --fractions as information fractions, checked as the
    experiment's AnalysisConfig checks them."""
    from pydantic import ValidationError

    from schemas.experiment import AnalysisConfig

    looks: int | tuple[float, ...] = _count(opts.get("--looks", "5"))
    if "--fractions" in opts:
        looks = tuple(_number("--fractions", f) for f in opts["--fractions"].split(","))
    try:
        return AnalysisConfig(design="group-sequential", looks=looks).timing()
    except ValidationError as err:
        _fail(f"--looks/--fractions: {err.errors()[0]['msg']}")


@app.command("group-sequential", context_settings=_RAW)
def group_sequential(ctx: typer.Context) -> None:
    """Plan a group-sequential design: the bounds and looks `design: group-sequential` uses.

    [--looks K | --fractions 0.3,0.6,1] [--pairs N] [--alpha A] [--power P] [--family F]
    [--effect-size D]. Prints per look its pairs (of N planned), efficacy and non-binding
    futility bounds (z), the maximum over the fixed-horizon sample (inflation), the effect N
    detects and the expected pairs at stop; with --effect-size, the pairs the design needs
    for that power (normal theory: discrete scores need a few percent more, see
    benchmarks/RESULTS.md).
    """
    from agents.scorer.stats.planned_looks import LookPlan

    opts = _options(ctx.args, ("--looks", "--fractions", "--pairs", "--alpha", "--power",
                               "--family", "--effect-size"))
    alpha = _probability("--alpha", opts.get("--alpha", "0.05"))
    power = _probability("--power", opts.get("--power", "0.8"))
    family = _count(opts.get("--family", "1"))
    timing = _planned_timing(opts)
    if "--effect-size" in opts:
        d = _number("--effect-size", opts["--effect-size"])
        if d <= 0:
            _fail("--effect-size must be positive")
        unit = _guard(lambda: LookPlan.make(timing, 10_000, alpha, power, family))
        pairs = math.ceil((unit.design.drift / d) ** 2)
    else:
        pairs = _count(opts.get("--pairs", "100"))
    plan = _guard(lambda: LookPlan.make(timing, pairs, alpha, power, family))
    design = plan.design
    _print({"planned_pairs": plan.counts[-1], "looks": [
        {"look": k + 1, "pairs": count, "fraction": t, "efficacy_z": upper,
         "futility_z": None if k == len(plan.counts) - 1 else lower}
        for k, (count, t, upper, lower) in enumerate(
            zip(plan.counts, design.timing, design.upper, design.lower, strict=True))],
        "alpha_one_sided": design.alpha, "beta": design.beta, "inflation": design.inflation,
        "detectable_d": plan.detectable_d(),
        "expected_pairs_at_d": design.stopping(design.drift)["expected_fraction"] * plan.counts[-1],
        "expected_pairs_at_0": design.stopping(0.0)["expected_fraction"] * plan.counts[-1]})


def _pair_values(args: list[str], valued: tuple[str, ...]) -> list[str]:
    """The options of args (a valued option with its value), without the bare arguments."""
    out, i = [], 0
    while i < len(args):
        flag = args[i].partition("=")[0]
        if flag in valued and "=" not in args[i] and i + 1 < len(args):
            out += args[i:i + 2]
            i += 2
            continue
        if args[i].startswith("--"):
            out.append(args[i])
        i += 1
    return out


@app.command(context_settings=_RAW)
def simulate(ctx: typer.Context) -> None:
    """Run the sequential-testing simulation (benchmarks/sequential.py); print its figures.

    [--quick] [--streams N] [--seed S]
    """
    from benchmarks.sequential import run

    opts = _options(ctx.args, ("--streams", "--seed"), switches=("--quick",))
    n = None
    if "--streams" in opts:
        n = _count(opts["--streams"])
        if n < 100:
            _fail("--streams must be at least 100")
    seed = _count(opts.get("--seed", "20240601"))
    _print(run(quick="--quick" in opts, streams=n, seed=seed, progress=sys.stderr))


# -- input checking ------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    # sys.exit, not typer.Exit: the lazy top-level group is plain click, which would not
    # recognise typer's own exit exception and print a traceback.
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _guard(compute):
    try:
        return compute()
    except ValueError as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else "invalid input")


def _required(name: str, value: str | None) -> str:
    if value is None:
        _fail(f"missing {name}")
    return value


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        _fail(f"{name}: not a number: {text!r}")
    if not math.isfinite(value):
        _fail(f"{name}: not a finite number: {text!r}")
    return value


def _probability(name: str, text: str) -> float:
    value = _number(name, text)
    if not 0.0 < value < 1.0:
        _fail(f"{name} must be in (0, 1), got {text}")
    return value


def _probability_closed(name: str, text: str) -> float:
    value = _number(name, text)
    if not 0.0 <= value <= 1.0:
        _fail(f"{name} must be in [0, 1], got {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        _fail(f"not a whole number: {text!r}")
    if value < 0:
        _fail(f"must not be negative: {text}")
    return value


def _fraction(name: str, text: str) -> tuple[int, int]:
    parts = text.split("/")
    if len(parts) != 2:
        _fail(f"{name} must be SUCCESSES/TRIALS, got {text!r}")
    successes, trials = _count(parts[0]), _count(parts[1])
    if successes > trials:
        _fail(f"{name}: successes exceed trials in {text!r}")
    return successes, trials


def _read_numbers(name: str, path: str) -> list[float]:
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{name}: cannot read {path}: {exc.strerror if isinstance(exc, OSError) else exc}")
    values = [_number(f"{name} line {i}", line.strip())
              for i, line in enumerate(lines, 1) if line.strip()]
    if not values:
        _fail(f"{name}: {path} holds no numbers")
    return values


def _flags(args: list[str], allowed: tuple[str, ...], single: tuple[str, ...] = ()
           ) -> dict[str, list[str]]:
    """Split raw args into {flag: values}; "" holds the values that follow no flag.

    A flag in `single` takes one value; the others take every value up to the next flag.
    """
    found: dict[str, list[str]] = {"": []}
    current = ""
    for arg in args:
        if arg.startswith("--"):
            flag, has_inline, inline = arg.partition("=")
            if flag not in allowed:
                _fail(f"unknown option {flag} (expected {', '.join(allowed)})")
            if flag in found:
                _fail(f"{flag} given twice")
            found[flag] = [inline] if has_inline else []
            current = "" if flag in single and has_inline else flag
        else:
            found[current].append(arg)
            if current in single:
                current = ""
    return found


def _options(args: list[str], valued: tuple[str, ...], switches: tuple[str, ...] = ()
             ) -> dict[str, str]:
    """Parse --name VALUE / --name=VALUE options and bare --switches; anything else fails."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        flag, has_inline, inline = args[i].partition("=")
        if flag in switches and not has_inline:
            found[flag] = "1"
        elif flag in valued:
            if has_inline:
                found[flag] = inline
            elif i + 1 < len(args):
                i += 1
                found[flag] = args[i]
            else:
                _fail(f"{flag} needs a value")
        elif flag.startswith("--"):
            _fail(f"unknown option {flag} (expected {', '.join(valued + switches)})")
        else:
            _fail(f"unexpected argument {args[i]!r}")
        i += 1
    return found


def _print(payload: dict) -> None:
    print(json.dumps(payload, allow_nan=False))
