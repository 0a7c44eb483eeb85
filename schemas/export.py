"""JSON Schema of every event, exported from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.events import EVENT_TYPES


def export_json_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EVENT_TYPES.items():
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        written.append(path)
    return written
