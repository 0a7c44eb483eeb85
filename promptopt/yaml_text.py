"""YAML read with the name of where it came from, so an error says
`in "examples/sentiment.yaml", line 3` rather than `in "<unicode string>"`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml


def load_yaml(text: str, name: str | Path) -> Any:
    """yaml.safe_load of `text`; marks in a YAMLError name `name`."""
    stream = io.StringIO(text)
    stream.name = str(name)  # pyyaml's Reader takes the stream's name for its marks
    return yaml.safe_load(stream)


def read_yaml(path: str | Path) -> Any:
    """The YAML file at `path` (UTF-8)."""
    return load_yaml(Path(path).read_text(encoding="utf-8"), path)
