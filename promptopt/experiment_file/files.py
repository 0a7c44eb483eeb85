"""file:// references of an experiment file: text, data (JSON, YAML, JSONL, CSV), globs.

Paths are relative to the file's folder. A config that came over the API has no folder:
its file:// references are refused (they would name files on the server).
"""

from __future__ import annotations

import csv
import glob
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from promptopt.experiment_file.checks import ExperimentFileError
from promptopt.yaml_text import load_yaml

PREFIX = "file://"
MAX_FILE_BYTES = 20 * 1024 * 1024


def is_ref(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(PREFIX)


@dataclass(frozen=True)
class Files:
    base: Path | None  # None: no file may be read (an API request)

    def paths(self, ref: str, where: str) -> list[Path]:
        """The files a reference names (a glob may name several), sorted; an error when
        none exists."""
        if self.base is None:
            raise ExperimentFileError(f"{where}: file:// references are not read here; "
                                      "send the content itself")
        name = ref.removeprefix(PREFIX)
        name, _, _ = _split_function(name)
        path = (self.base / name)
        if glob.has_magic(name):
            found = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            found = [p for p in found if p.is_file()]
            if not found:
                raise ExperimentFileError(f"{where}: no file matches {ref}")
            return found
        if not path.is_file():
            raise ExperimentFileError(f"{where}: {ref} not found (looked for {path})")
        return [path]

    def text(self, path: Path, where: str) -> str:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ExperimentFileError(f"{where}: {path} is over {MAX_FILE_BYTES // 2**20} MiB")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ExperimentFileError(f"{where}: {path} is not UTF-8 text") from None

    def data(self, path: Path, where: str) -> Any:
        """A data file's content: JSON, YAML, JSONL (a list), CSV (a list of row dicts);
        any other file is its text."""
        text = self.text(path, where)
        suffix = path.suffix.lower()
        try:
            if suffix == ".json":
                return json.loads(text)
            if suffix in (".yaml", ".yml"):
                return load_yaml(text, path)
            if suffix == ".jsonl":
                return [json.loads(line) for line in text.splitlines() if line.strip()]
        except (ValueError, yaml.YAMLError) as err:
            raise ExperimentFileError(f"{where}: {path.name} does not parse: {err}") from None
        if suffix == ".csv":
            return read_csv(text, f"{where} ({path.name})")
        return text

    def script(self, ref: str, where: str) -> dict[str, Any]:
        """A .js/.py file named by an assertion or transform, embedded so that any worker can
        run it: {"script", "language", "function", "path"}."""
        name, function, _ = _split_function(ref.removeprefix(PREFIX))
        language = {".js": "javascript", ".cjs": "javascript", ".mjs": "javascript",
                    ".py": "python"}.get(Path(name).suffix.lower())
        if language is None:
            raise ExperimentFileError(f"{where}: {ref} is not a .js or .py script")
        [path] = self.paths(PREFIX + name, where)
        return {"script": self.text(path, where), "language": language,
                "function": function or None, "path": name}


def _split_function(name: str) -> tuple[str, str, bool]:
    """`file://check.py:get_assert` -> ("check.py", "get_assert"); Windows drives aside."""
    head, sep, tail = name.rpartition(":")
    if sep and head and "/" not in tail and "." not in tail and len(head) > 1:
        return head, tail, True
    return name, "", False


def read_csv(text: str, where: str) -> list[dict[str, str]]:
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as err:
        raise ExperimentFileError(f"{where}: not valid CSV: {err}") from None
    for i, row in enumerate(rows, start=2):
        if None in row:
            raise ExperimentFileError(f"{where}: line {i} has more cells than the header")
    return [{k.strip(): (v or "") for k, v in row.items()} for row in rows]
