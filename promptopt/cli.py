"""The `promptopt` command.

Each command group lives in its own module under promptopt/commands/ and is imported only
when invoked, so `promptopt stats ...` does not pay for importing litellm or Faust.
"""

from __future__ import annotations

import importlib
import sys
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


def _version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        print(f"promptopt {version('promptopt')}")
    except PackageNotFoundError:  # run from a checkout that was never installed
        print("promptopt (not installed)")
    raise typer.Exit()


root = typer.Typer(
    cls=LazyGroup,
    add_completion=False,
    help="promptopt: prompt optimization with real A/B statistics.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@root.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """promptopt: prompt optimization with real A/B statistics."""


cli = typer.main.get_command(root)


# Long-running servers log their clients' connection errors; a one-shot command reports the
# failure once itself (promptopt.server_errors) instead of under a client's log lines.
SERVING = {"worker", "api", "sim-llm"}


def main() -> None:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    if command not in SERVING:
        import logging

        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        cli(prog_name="promptopt")
    except Exception as err:
        from promptopt.server_errors import unreachable

        line = unreachable(err)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
