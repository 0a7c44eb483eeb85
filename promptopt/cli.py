"""The `promptopt` command.

Each command group lives in its own module under promptopt/commands/ and is imported only
when invoked, so `promptopt stats ...` does not pay for importing litellm or Faust.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

# command name -> module under promptopt.commands exposing `app` (a typer.Typer)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "Optimize an experiment file locally (embedded runtime, no servers)."),
    "eval": ("eval", "Evaluate a promptfoo config's prompts with A/B statistics (locally)."),
    "worker": ("worker", "Run the agents as Faust workers on Apache Kafka."),
    "submit": ("submit", "Publish an experiment file to prompt-submitted."),
    "watch": ("watch", "Follow analysis-ready for an experiment."),
    "stats": ("stats", "Statistics: sample size, tests, corrections, SRM, Bayesian."),
    "analyze": ("analyze", "Analyze a prompt: components, scores, issues, patterns."),
    "optimize": ("optimize", "Generate ranked variations of a prompt without trials."),
    "patterns": ("patterns", "The pattern library: list, search, apply, template."),
    "db": ("db", "Database: migrate."),
    "topics": ("topics", "Kafka topics: create, list, asyncapi."),
    "schemas": ("schemas", "Export the JSON Schema of every event."),
    "sim-llm": ("sim_llm", "Serve the OpenAI-compatible LLM simulator."),
    "api": ("api", "Serve the REST API, SSE stream and dashboard."),
    "probe": ("probe", "GET a health URL; exit 0 on 2xx (container healthchecks)."),
}


class LazyGroup(TyperGroup):
    # typer carries its own copy of click; the group must come from the same copy, or the
    # sub-commands' Exit and usage errors would escape its error handling as tracebacks.
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(name for name in COMMANDS if _module_exists(name))

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in COMMANDS or not _module_exists(name):
            return None
        module = importlib.import_module(f"promptopt.commands.{COMMANDS[name][0]}")
        command = typer.main.get_command(module.app)
        command.name = name  # a multi-command typer app comes back as a group with no name
        command.help = command.help or COMMANDS[name][1]
        return command


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"promptopt.commands.{COMMANDS[name][0]}") is not None


cli = LazyGroup(
    name="promptopt",
    help="promptopt: prompt optimization with real A/B statistics.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def main() -> None:
    cli(prog_name="promptopt")


if __name__ == "__main__":
    main()
