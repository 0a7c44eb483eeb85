"""optimize_for_model: the same prompt, laid out the way a model family follows best.

- Anthropic (Claude): instructions in <instructions> tags and each input in a tag named
  after it, as Anthropic's prompting guide recommends.
- OpenAI GPT, Gemini, the simulator and unknown chat models: a role or standing rule at the
  start goes to the system message; a long prompt gets Markdown sections.
- OpenAI reasoning models (o1, o3, o4): step-by-step instructions are removed (these models
  reason on their own, and OpenAI advises against asking them to).
- Open-weight models (Llama, Mistral, Qwen, ...): role to the system message, and the output
  format repeated as the last line, which small models follow most reliably.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ROLE_SENTENCE = re.compile(r"^\s*((?:you are|act as|you're)\b[^.\n]*[.!]?)\s*", re.I)
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
_FENCED = re.compile(r"<(\w+)[^>]*>\s*\{\{\s*[\w.-]+\s*\}\}\s*</\1>|\"\"\"|```")
_STEP_BY_STEP = re.compile(
    r"[^.\n]*\b(step[- ]by[- ]step|think (carefully|through)|let's think)\b[^.\n]*[.!]?\s*", re.I)
_FORMAT_LINE = re.compile(
    r"[^.\n]*\b(output format|respond with only|answer with only|return only|format the "
    r"answer|respond in json|only a json)\b[^.\n]*[.!]?", re.I)

FAMILIES = ("anthropic", "openai-reasoning", "openai", "google", "open-weight", "generic")


@dataclass(frozen=True)
class ModelFormatted:
    prompt: str
    system: str | None
    family: str
    rewrites: tuple[str, ...]
    patterns: tuple[str, ...]  # library patterns the layout corresponds to

    @property
    def changed(self) -> bool:
        return bool(self.rewrites)


def model_family(model_id: str) -> str:
    m = model_id.lower()
    name = m.rsplit("/", 1)[-1]
    if "claude" in m or m.startswith("anthropic/") or m.startswith("bedrock/anthropic"):
        return "anthropic"
    if re.match(r"o\d(-|$)", name):
        return "openai-reasoning"
    if "gemini" in m or m.startswith(("vertex_ai/", "gemini/")):
        return "google"
    if any(k in m for k in ("llama", "mistral", "mixtral", "qwen", "deepseek", "phi", "gemma",
                            "ollama/", "huggingface/", "together_ai/")):
        return "open-weight"
    if "gpt" in m or m.startswith(("openai/", "azure/", "sim/")):
        return "openai"
    return "generic"


def optimize_for_model(prompt: str, system: str | None, model_id: str) -> ModelFormatted:
    family = model_family(model_id)
    if family == "anthropic":
        return _anthropic(prompt, system)
    if family == "openai-reasoning":
        return _reasoning(prompt, system)
    if family == "open-weight":
        return _open_weight(prompt, system)
    return _chat(prompt, system, family)


def _role_to_system(prompt: str, system: str | None) -> tuple[str, str | None, bool]:
    m = _ROLE_SENTENCE.match(prompt)
    if m is None or not prompt[m.end():].strip():
        return prompt, system, False
    role = m.group(1).strip()
    return prompt[m.end():], f"{role}\n\n{system}" if system else role, True


def _chat(prompt: str, system: str | None, family: str) -> ModelFormatted:
    rewrites, patterns = [], []
    prompt, system, moved = _role_to_system(prompt, system)
    if moved:
        rewrites.append("role moved to the system message")
        patterns.append("system-role")
    if len(prompt.split()) > 80 and not re.search(r"^#+ ", prompt, re.M):
        prompt = f"### Task\n{prompt.strip()}\n\n### Response"
        rewrites.append("Markdown sections")
        patterns.append("markdown-sections")
    return ModelFormatted(prompt, system, family, tuple(rewrites), tuple(patterns))


def _anthropic(prompt: str, system: str | None) -> ModelFormatted:
    rewrites, patterns = [], []
    if not _FENCED.search(prompt) and _VARIABLE.search(prompt):
        prompt = _VARIABLE.sub(lambda m: f"<{m.group(1)}>{m.group(0)}</{m.group(1)}>", prompt)
        rewrites.append("each input in a tag named after it")
        patterns.append("delimiters")
    if "<instructions>" not in prompt:
        prompt = f"<instructions>\n{prompt.strip()}\n</instructions>"
        rewrites.append("instructions in <instructions> tags")
        patterns.append("xml-tags")
    return ModelFormatted(prompt, system, "anthropic", tuple(rewrites), tuple(patterns))


def _reasoning(prompt: str, system: str | None) -> ModelFormatted:
    stripped = re.sub(r"[ \t]{2,}", " ", _STEP_BY_STEP.sub(" ", prompt)).strip()
    if stripped and stripped != prompt.strip() and _VARIABLE.findall(stripped) == \
            _VARIABLE.findall(prompt):
        return ModelFormatted(stripped, system, "openai-reasoning",
                              ("step-by-step instruction removed (the model reasons itself)",),
                              ())
    return ModelFormatted(prompt, system, "openai-reasoning", (), ())


def _open_weight(prompt: str, system: str | None) -> ModelFormatted:
    formatted = _chat(prompt, system, "open-weight")
    prompt, rewrites = formatted.prompt, list(formatted.rewrites)
    found = _FORMAT_LINE.search(prompt)
    if found and not prompt.rstrip().endswith(found.group(0).strip()):
        prompt = f"{prompt.rstrip()}\n\nRemember: {found.group(0).strip()}"
        rewrites.append("output format repeated at the end")
    return ModelFormatted(prompt, formatted.system, "open-weight", tuple(rewrites),
                          formatted.patterns)
