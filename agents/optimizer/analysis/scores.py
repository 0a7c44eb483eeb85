"""Clarity and specificity scores in [0, 1], each a weighted mean of named features so a
user can see why a prompt scored as it did."""

from __future__ import annotations

from agents.optimizer.analysis import cues
from agents.optimizer.analysis.segments import Segments, reading_ease


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def _weighted(features: dict[str, float], weights: dict[str, float]) -> float:
    return round(sum(features[k] * w for k, w in weights.items()) / sum(weights.values()), 4)


CLARITY_WEIGHTS = {"has_instruction": 3.0, "sentence_length": 1.5, "plain_wording": 2.0,
                   "single_focus": 1.0, "readability": 1.0, "structure": 1.0}
SPECIFICITY_WEIGHTS = {"output_format": 2.0, "constraints": 1.5, "quantities": 1.0,
                       "audience": 1.0, "examples": 1.5, "detail": 1.0}


def clarity(seg: Segments, issue_codes: set[str]) -> tuple[float, dict[str, float]]:
    words = sum(len(s.split()) for s in seg.sentences)
    per_sentence = words / max(1, len(seg.sentences))
    questions = sum(s.rstrip().endswith("?") for s in seg.sentences)
    vague = (len(cues.VAGUE_STRONG.findall(seg.lower_body))
             + 0.5 * len(cues.VAGUE_WEAK.findall(seg.lower_body)))
    long_without_structure = words > 80 and "\n" not in seg.text.strip()
    features = {
        "has_instruction": 0.0 if "missing-instruction" in issue_codes else 1.0,
        # 12-20 words a sentence reads easily; 45 is hard going.
        "sentence_length": round(_clamp(1 - (per_sentence - 20) / 25), 4),
        "plain_wording": round(_clamp(1 - vague / 4), 4),
        "single_focus": 1.0 if questions <= 1 or seg.numbered_lines else 0.4,
        "readability": round(_clamp(reading_ease(seg.lower_sentences) / 70), 4),
        "structure": 0.3 if long_without_structure else 1.0,
    }
    return _weighted(features, CLARITY_WEIGHTS), features


def specificity(seg: Segments, issue_codes: set[str]) -> tuple[float, dict[str, float]]:
    body = seg.lower_body
    constraints = len(cues.CONSTRAINT.findall(body))
    words = len(body.split())
    features = {
        "output_format": 0.0 if "no-output-format" in issue_codes else 1.0,
        "constraints": round(_clamp(constraints / 3), 4),
        "quantities": 1.0 if cues.NUMBER.search(body) else 0.0,
        "audience": 1.0 if cues.AUDIENCE.search(seg.lower_text) else 0.0,
        "examples": 1.0 if seg.example_lines or cues.EXAMPLES.search(seg.lower_text) else 0.0,
        # A one-line request rarely pins down enough; ~40 words usually does.
        "detail": round(_clamp(words / 40), 4),
    }
    return _weighted(features, SPECIFICITY_WEIGHTS), features
