"""The pattern library: seeded prompt patterns (library.yaml), with search, apply and
template.

A pattern rewrites a prompt through a string.Template ($prompt is the prompt; other $names
come from the pattern's defaults or the caller), after an optional structural transform.
Prompt {{variables}} never pass through the template engine, so they survive every rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from agents.patterns.learning import pooled_posterior, posteriors
from agents.patterns.prefilter import Cue
from agents.patterns.rewrites import TRANSFORMS
from promptopt.yaml_text import read_yaml

LIBRARY_FILE = Path(__file__).with_name("library.yaml")
GOALS = ("clarity", "engagement", "accuracy", "efficiency", "creativity")


class PatternNotFound(KeyError):
    def __str__(self) -> str:
        return f"unknown pattern {self.args[0]!r}"


class PatternNotApplicable(ValueError):
    """The pattern's structural rewrite does not fit this prompt (nothing to fence, ...)."""


@dataclass(frozen=True)
class Pattern:
    id: str
    name: str
    type: str
    description: str
    template: str
    goals: tuple[str, ...]
    group: str = ""
    target: str = "prompt"  # "prompt" or "system"
    transform: str | None = None
    detect: str = ""
    defaults: Mapping[str, str] = field(default_factory=dict)
    domains: tuple[str, ...] = ("*",)
    models: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # placeholders an automatic rewrite must have values for
    use_cases: tuple[str, ...] = ()
    examples: tuple[Mapping[str, str], ...] = ()

    @property
    def placeholders(self) -> list[str]:
        names = [m.group("named") or m.group("braced") for m in Template.pattern.finditer(
            self.template) if m.group("named") or m.group("braced")]
        return list(dict.fromkeys(names))

    def serves_domain(self, domain: str) -> bool:
        return "*" in self.domains or domain in self.domains

    def fits_model(self, model_id: str) -> bool:
        return not self.models or any(m in model_id.lower() for m in self.models)

    def present_in(self, text: str) -> bool:
        """Whether `text` already uses this pattern. Pass lowercased text: detectors are
        lowercase and compiled without re.IGNORECASE, which is several times faster."""
        return bool(self.detect) and _detector(self.detect).search(text) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "type": self.type,
            "description": self.description, "template": self.template,
            "placeholders": self.placeholders, "defaults": dict(self.defaults),
            "goals": list(self.goals), "group": self.group, "target": self.target,
            "transform": self.transform, "domains": list(self.domains),
            "models": list(self.models), "use_cases": list(self.use_cases),
            "examples": [dict(e) for e in self.examples],
        }


@cache
def _detector(regex: str) -> Cue:
    return Cue(regex, re.M)


@cache
def load_library(path: Path = LIBRARY_FILE) -> tuple[Pattern, ...]:
    raw = read_yaml(path)
    patterns = tuple(
        Pattern(
            id=p["id"], name=p["name"], type=p["type"], description=p["description"],
            template=p["template"], goals=tuple(p.get("goals", ())), group=p.get("group", ""),
            target=p.get("target", "prompt"), transform=p.get("transform"),
            detect=p.get("detect", ""), defaults=dict(p.get("defaults", {})),
            domains=tuple(p.get("domains", ("*",))), models=tuple(p.get("models", ())),
            requires=tuple(p.get("requires", ())),
            use_cases=tuple(p.get("use_cases", ())), examples=tuple(p.get("examples", ())),
        )
        for p in raw
    )
    ids = [p.id for p in patterns]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate pattern ids in {path}")
    return patterns


def get_pattern(pattern_id: str) -> Pattern:
    for p in load_library():
        if p.id == pattern_id:
            return p
    raise PatternNotFound(pattern_id)


def identify_patterns(prompt: str, system: str | None = None) -> list[str]:
    """Ids of the library patterns a prompt (and its system message) already uses."""
    full = (f"{system}\n{prompt}" if system else prompt).lower()
    system_only = (system or "").lower()
    return [
        p.id for p in load_library()
        if p.present_in(system_only if p.target == "system" else full)
    ]


def fill(pattern: Pattern, prompt: str, values: Mapping[str, Any] | None = None,
         *, domain: str = "general") -> str:
    """The pattern's template filled: caller values over defaults; defaults may name $domain."""
    context = {"domain": domain}
    filled = {k: Template(str(v)).safe_substitute(context) for k, v in pattern.defaults.items()}
    filled.update({k: str(v) for k, v in (values or {}).items()})
    return Template(pattern.template).safe_substitute({**context, **filled, "prompt": prompt})


@dataclass(frozen=True)
class Applied:
    prompt: str
    system: str | None


def apply_pattern(
    pattern: Pattern | str,
    prompt: str,
    *,
    system: str | None = None,
    values: Mapping[str, Any] | None = None,
    domain: str = "general",
) -> Applied:
    """Rewrite (prompt, system) with one pattern. Raises PatternNotApplicable when its
    structural transform does not fit the prompt."""
    p = get_pattern(pattern) if isinstance(pattern, str) else pattern
    if p.target == "system":
        new_system = fill(p, system or "", values, domain=domain)
        if system:
            new_system = f"{new_system}\n\n{system}"
        return Applied(prompt, new_system)
    text = prompt
    if p.transform:
        transformed = TRANSFORMS[p.transform](prompt)
        if transformed is None:
            raise PatternNotApplicable(f"pattern {p.id!r} does not apply to this prompt")
        text = transformed
    return Applied(fill(p, text, values, domain=domain), system)


def pattern_template(pattern_id: str) -> dict[str, Any]:
    """What a user needs to use a pattern by hand: its template, placeholders and defaults."""
    p = get_pattern(pattern_id)
    return {
        "id": p.id, "name": p.name, "template": p.template, "placeholders": p.placeholders,
        "defaults": dict(p.defaults), "target": p.target, "transform": p.transform,
        "example": dict(p.examples[0]) if p.examples else None,
    }


@dataclass(frozen=True)
class SearchHit:
    pattern: Pattern
    score: float
    relevance: float
    success: float  # posterior mean of success in the domain (0.5 when nothing is measured)
    evidence: float  # outcomes behind `success`

    def to_json(self) -> dict[str, Any]:
        return {"id": self.pattern.id, "name": self.pattern.name, "type": self.pattern.type,
                "description": self.pattern.description, "goals": list(self.pattern.goals),
                "score": round(self.score, 4), "relevance": round(self.relevance, 4),
                "success": round(self.success, 4), "evidence": self.evidence,
                # The seeds' names: the measured success rate (the same posterior mean) and
                # what the pattern is for.
                "success_rate": round(self.success, 4),
                "use_cases": list(self.pattern.use_cases)}


@cache
def _index() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer  # heavy: only when searching

    docs = [
        " ".join([p.id.replace("-", " "), p.name, p.type, p.description, *p.goals,
                  *p.use_cases, *p.domains, *(e.get("before", "") for e in p.examples)])
        for p in load_library()
    ]
    vectorizer = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True)
    return vectorizer, vectorizer.fit_transform(docs)


def search(
    query: str,
    *,
    domain: str | None = None,
    stats: Mapping[str, Any] | None = None,
    limit: int = 10,
) -> list[SearchHit]:
    """Patterns ranked by text relevance times measured success.

    Success is the posterior mean in `domain` pooled over every model in `stats` (the
    pattern-stats table); it scales relevance by (0.5 + mean), so an unmeasured pattern keeps
    its relevance and a proven one can double it. Patterns written for other domains are
    kept but ranked down. An empty query ranks the whole library by success.
    """
    library = load_library()
    vectorizer, matrix = _index()
    if query.strip():
        relevance = (matrix @ vectorizer.transform([query]).T).toarray().ravel()
    else:
        relevance = [1.0] * len(library)
    by_pattern: dict[str, set[str]] = {}
    for pid, dom, model in posteriors(stats or {}):
        if domain is None or dom == domain:
            by_pattern.setdefault(pid, set()).add(model)
    hits = []
    for p, rel in zip(library, relevance, strict=True):
        if rel <= 0:
            continue
        post = pooled_posterior(stats or {}, p.id, domain or "general", by_pattern.get(p.id, ()))
        score = float(rel) * (0.5 + post.mean)
        if domain is not None and not p.serves_domain(domain):
            score *= 0.6
        hits.append(SearchHit(p, score, float(rel), post.mean, post.trials))
    hits.sort(key=lambda h: (-h.score, h.pattern.id))
    return hits[:limit]
