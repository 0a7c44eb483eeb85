"""The `promptopt` command.

Each command group lives in its own module under promptopt/commands/ and is imported only
when invoked, so `promptopt stats ...` does not pay for importing litellm or Faust.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

import promptopt.settings  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before any import)

# command name -> module under promptopt.commands exposing `app` (a typer.Typer)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "Optimize an experiment file locally (embedded runtime, no servers)."),
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
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if _module_exists(name))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _module_exists(name):
            return None
        module = importlib.import_module(f"promptopt.commands.{COMMANDS[name][0]}")
        command = typer.main.get_command(module.app)
        command.help = command.help or COMMANDS[name][1]
        return command


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(f"promptopt.commands.{COMMANDS[name][0]}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """promptopt: prompt optimization with real A/B statistics."""


def main() -> None:
    sys.exit(cli(standalone_mode=True))


if __name__ == "__main__":
    main()
