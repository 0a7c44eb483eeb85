"""`promptopt analyze PROMPT`: components, clarity, specificity, issues, patterns, tokens.

Prints one JSON object. A prompt under 10 or over 10,000 characters gets a one-line error
on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def read_prompt(prompt: str) -> str:
    """The prompt argument, or stdin when it is "-"; exits 2 when out of bounds."""
    from agents.optimizer.analysis import InvalidPrompt, check_prompt

    text = sys.stdin.read() if prompt == "-" else prompt
    try:
        return check_prompt(text)
    except InvalidPrompt as err:
        print(f"error: {err}", file=sys.stderr)
        raise typer.Exit(2) from None


@app.command()
def analyze(
    prompt: str = typer.Argument(..., help='the prompt, or "-" to read it from stdin'),
    system: str | None = typer.Option(None, "--system", help="system message, if any"),
    model: list[str] = typer.Option(
        [], "--model", "-m", help="target model (litellm id) for token counts; repeatable"),
    tokens: bool = typer.Option(True, "--tokens/--no-tokens",
                                help="count tokens (imports litellm: a few seconds)"),
) -> None:
    """Analyze a prompt: components, clarity, specificity, issues, patterns, tokens."""
    from agents.optimizer.analysis import analyze_prompt

    text = read_prompt(prompt)
    analysis = analyze_prompt(text, system, models=model, tokens=tokens)
    print(json.dumps(analysis.to_json(), ensure_ascii=False))
