"""What the platform lets one request ask for, beyond what the schema itself bounds: the
trials it may plan and the budget it may spend (promptopt settings experiment_max_*), and
the hosts its models may be called at (llm_allowed_hosts: agents.llm.allowed_hosts, which
the worker applies again before any call).

The schema bounds each field; these bound their product (40,000 test cases x 21
variations x 100 repetitions is valid field by field), and they are settings, so an
operator can raise them.
"""

from __future__ import annotations

from agents.llm.allowed_hosts import refusal
from api.spec_body import invalid
from promptopt.settings import Settings
from schemas.experiment import ExperimentSpec


def within_limits(spec: ExperimentSpec, core: Settings) -> ExperimentSpec:
    """The spec, with the default budget cap where it states none; ApiError 422 naming the
    field when it asks for more than the limits allow."""
    named = [(f"models.{i}", m) for i, m in enumerate(spec.models)]
    if spec.optimizer_model is not None:
        named.append(("optimizer_model", spec.optimizer_model))
    for where, model in named:
        reason = refusal(model.api_base, core) if model.api_base else None
        if reason is not None:
            raise invalid(f"{where}.api_base", reason)
    max_trials, max_cost = core.experiment_max_trials, core.experiment_max_cost_usd
    planned = spec.trials_planned()
    if planned > max_trials:
        raise invalid("test_cases", f"the experiment plans {planned} trials ("
                      f"{spec.n_variations + 1} variations x {len(spec.models)} models x "
                      f"{len(spec.test_cases)} test cases x {spec.analysis.repetitions} "
                      f"repetitions x {spec.max_rounds} rounds), over the limit of "
                      f"{max_trials}")
    budget = spec.budget
    if budget.max_trials is not None and budget.max_trials > max_trials:
        raise invalid("budget.max_trials", f"{budget.max_trials} is over the limit of "
                      f"{max_trials} trials per experiment")
    if budget.max_cost_usd is not None and budget.max_cost_usd > max_cost:
        raise invalid("budget.max_cost_usd", f"{budget.max_cost_usd:g} is over the limit "
                      f"of {max_cost:g} USD per experiment")
    if budget.max_cost_usd is None:
        spec = spec.model_copy(update={
            "budget": budget.model_copy(update={"max_cost_usd": max_cost})})
    return spec
