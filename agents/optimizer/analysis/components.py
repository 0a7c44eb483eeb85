"""The parts of a prompt: instruction, context, examples, constraints, output format,
role and template variables, each as the sentences that make it up."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.optimizer.analysis import cues
from agents.optimizer.analysis.segments import Segments

_ROLE = re.compile(r"^\s*(you are|act as|you're|imagine you are)\b")


@dataclass(frozen=True)
class Components:
    instruction: tuple[str, ...]
    context: tuple[str, ...]
    examples: tuple[str, ...]
    constraints: tuple[str, ...]
    output_format: tuple[str, ...]
    role: tuple[str, ...]
    variables: tuple[str, ...]

    def to_json(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.__dict__.items()}


def components(seg: Segments) -> Components:
    """Each sentence goes to the first part it fits, in this order: role, output format,
    constraint, instruction; what is left is context."""
    parts: dict[str, list[str]] = {k: [] for k in
                                   ("role", "output_format", "constraints", "instruction",
                                    "context")}
    for s, low in zip(seg.sentences, seg.lower_sentences, strict=True):
        if _ROLE.match(low):
            parts["role"].append(s)
        elif cues.FORMAT.search(low) and not s.rstrip().endswith("?"):
            parts["output_format"].append(s)
        elif cues.CONSTRAINT.search(low) and not cues.IMPERATIVE.match(low):
            parts["constraints"].append(s)
        elif cues.IMPERATIVE.match(low) or cues.REQUEST.search(low):
            parts["instruction"].append(s)
        else:
            parts["context"].append(s)
    return Components(
        instruction=tuple(parts["instruction"]), context=tuple(parts["context"]),
        examples=seg.example_lines, constraints=tuple(parts["constraints"]),
        output_format=tuple(parts["output_format"]), role=tuple(parts["role"]),
        variables=seg.variables,
    )
