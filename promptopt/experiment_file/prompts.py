"""promptfoo prompts: inline text; file:// text (.txt, .md, .j2; `---` separates several
prompts in one file), chat JSON or YAML (a list of {role, content}), CSV (prompt, label
columns), globs; entries as {id | raw, label} objects or a {path: label} mapping.

A chat prompt of a system and a user message becomes promptopt's (system, prompt) pair, so
the optimizer can rewrite it; a longer conversation stays a chat (JSON) prompt.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.trials.render import chat_messages
from promptopt.experiment_file.checks import ExperimentFileError, check_keys, expect_list
from promptopt.experiment_file.files import Files, is_ref, read_csv
from promptopt.yaml_text import load_yaml
from schemas.experiment import PROMPT_MAX_CHARS, PROMPT_MIN_CHARS

_SEPARATOR = re.compile(r"^-{3,}\s*$", re.M)
_UNSUPPORTED_SUFFIXES = {".py": "Python prompt functions", ".js": "JavaScript prompt functions",
                         ".ts": "TypeScript prompt functions"}


@dataclass
class PromptEntry:
    label: str
    prompt: str
    system: str | None = None
    is_chat: bool = False  # a multi-turn chat kept as JSON
    models: list[str] = field(default_factory=list)  # filled from providers' `prompts`


def read_prompts(raw: Any, files: Files) -> list[PromptEntry]:
    if isinstance(raw, dict) and not ({"id", "raw", "label"} & set(raw)):
        raw = [{"id": path, "label": label} for path, label in raw.items()]  # {path: label}
    entries: list[PromptEntry] = []
    for i, item in enumerate(expect_list(raw, "prompts")):
        where = f"prompts.{i}"
        if isinstance(item, dict):
            check_keys(item, where, supported={"id", "raw", "label", "content", "prompt"},
                       refused={"config": "per-prompt provider config",
                                "function": "prompt functions"})
            text = item.get("raw") or item.get("id") or item.get("content") or item.get("prompt")
            label = item.get("label")
        else:
            text, label = item, None
        if not isinstance(text, str) or not text.strip():
            raise ExperimentFileError(f"{where}: expected prompt text or a file:// path")
        found = _from_ref(text, files, where) if is_ref(text) else [(None, text)]
        if text.startswith("exec:"):
            raise ExperimentFileError(f"{where}: not supported: exec: prompt scripts")
        for j, (name, body) in enumerate(found):
            entry_label = label if label and len(found) == 1 else (
                f"{label}: {j + 1}" if label else name or _label_of(body, len(entries)))
            entries.append(_entry(str(entry_label)[:200], body, f"{where} ({entry_label})"))
    labels = [e.label for e in entries]
    for label in labels:
        if labels.count(label) > 1:
            raise ExperimentFileError(f"prompts: two prompts are labelled {label!r}; give each "
                                      "its own `label`")
    return entries


def _from_ref(ref: str, files: Files, where: str) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = []
    for path in files.paths(ref, where):
        suffix = path.suffix.lower()
        if suffix in _UNSUPPORTED_SUFFIXES:
            raise ExperimentFileError(f"{where}: not supported: {_UNSUPPORTED_SUFFIXES[suffix]} "
                                      f"({path.name}); write the prompt as a template")
        text = files.text(path, where)
        name = _relative(path, files)
        if suffix == ".json":
            out.append((name, text.strip()))
        elif suffix in (".yaml", ".yml"):
            out.extend(_yaml_prompts(text, name, where))
        elif suffix == ".csv":
            rows = read_csv(text, where)
            for k, row in enumerate(rows):
                if "prompt" not in row:
                    raise ExperimentFileError(f"{where}: {path.name} needs a `prompt` column")
                out.append((row.get("label") or f"{name}:{k + 1}", row["prompt"]))
        else:
            parts = [p.strip() for p in _SEPARATOR.split(text) if p.strip()]
            out.extend((name if len(parts) == 1 else f"{name}:{k + 1}", p)
                       for k, p in enumerate(parts))
    return out


def _yaml_prompts(text: str, name: str, where: str) -> list[tuple[str | None, str]]:
    try:
        data = load_yaml(text, name)
    except yaml.YAMLError as err:
        raise ExperimentFileError(f"{where}: {name} does not parse: {err}") from None
    if isinstance(data, list) and data and all(isinstance(m, dict) and "role" in m
                                               for m in data):
        return [(name, json.dumps(data, ensure_ascii=False))]
    if isinstance(data, str):
        return [(name, data)]
    if isinstance(data, list) and all(isinstance(p, str) for p in data):
        return [(f"{name}:{k + 1}", p) for k, p in enumerate(data)]
    raise ExperimentFileError(f"{where}: {name} is neither a chat (a list of role/content "
                              "messages) nor prompt text")


def _entry(label: str, text: str, where: str) -> PromptEntry:
    chat = chat_messages(text)
    entry = PromptEntry(label=label, prompt=text)
    if chat is not None:
        roles = [m["role"] for m in chat]
        if roles == ["user"]:
            entry.prompt = str(chat[0]["content"])
        elif roles == ["system", "user"]:
            entry.system, entry.prompt = str(chat[0]["content"]), str(chat[1]["content"])
        else:
            entry.is_chat = True
            entry.prompt = json.dumps(chat, ensure_ascii=False)
    size = len(entry.prompt)
    if not PROMPT_MIN_CHARS <= size <= PROMPT_MAX_CHARS:
        raise ExperimentFileError(
            f"{where}: the prompt has {size:,} characters; a prompt has "
            f"{PROMPT_MIN_CHARS} to {PROMPT_MAX_CHARS:,}")
    if entry.system is not None and len(entry.system) > PROMPT_MAX_CHARS:
        raise ExperimentFileError(f"{where}: the system message is over "
                                  f"{PROMPT_MAX_CHARS:,} characters")
    return entry


def _label_of(text: str, index: int) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first[:57] + "...") if len(first) > 60 else first or f"prompt {index + 1}"


def _relative(path: Path, files: Files) -> str:
    try:
        return str(path.relative_to(files.base)) if files.base else path.name
    except ValueError:
        return path.name
