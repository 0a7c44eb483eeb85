"""Pattern mining: propose candidate patterns from what winning prompts added to their
controls, by clustering those additions (scikit-learn) and extracting recurring phrases;
and classify a pattern's type from the seeded library.

A winner's "addition" is every sentence it has that its control lacks. Additions that a
library pattern already explains are set aside; the rest are clustered by TF-IDF cosine
distance, and a cluster seen in enough different experiments becomes a candidate pattern
(its template: the prompt, then the cluster's most central sentence).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from agents.patterns.library import identify_patterns, load_library

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_VARIABLE = re.compile(r"\{\{\s*[\w.-]+\s*\}\}")


@dataclass(frozen=True)
class Winner:
    """A prompt that won significantly, and the control it beat."""

    experiment_id: str
    prompt: str
    control: str
    lift: float = 0.0


@dataclass(frozen=True)
class MinedPattern:
    id: str
    name: str
    type: str
    template: str
    phrases: tuple[str, ...]
    support: int  # distinct experiments whose winners added text of this cluster
    examples: tuple[str, ...]
    experiments: tuple[str, ...] = field(default_factory=tuple)
    mean_lift: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type, "template": self.template,
                "phrases": list(self.phrases), "support": self.support,
                "examples": list(self.examples), "experiments": list(self.experiments),
                "mean_lift": round(self.mean_lift, 4)}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 3]


def additions(winner: Winner) -> list[str]:
    """Sentences of the winner that are not in its control, with {{variables}} blanked, and
    not already explained by a library pattern."""
    control = {s.lower() for s in sentences(winner.control)}
    found = []
    for s in sentences(winner.prompt):
        if s.lower() in control:
            continue
        if identify_patterns(s):
            continue  # a known pattern made this sentence
        found.append(_VARIABLE.sub("{{input}}", s))
    return found


@cache
def _type_classifier() -> Any:
    """TF-IDF + nearest centroid over the library's patterns, labelled with their types."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline

    library = load_library()
    docs, labels = [], []
    for p in library:
        texts = [p.template.replace("$prompt", ""), p.description, p.name, *p.use_cases]
        texts += [e.get("after", "") for e in p.examples]
        for t in texts:
            docs.append(t)
            labels.append(p.type)
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          NearestCentroid())
    model.fit(docs, labels)
    return model


def classify_pattern_type(text: str) -> str:
    """The library type (reasoning, format, persona, ...) a pattern text is closest to."""
    return str(_type_classifier().predict([text])[0])


def mine_patterns(winners: Sequence[Winner], *, min_support: int = 2,
                  distance: float = 0.7) -> list[MinedPattern]:
    """Candidate patterns, most supported first. `distance`: the cosine distance under which
    additions join one cluster."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    items: list[tuple[str, Winner]] = [(s, w) for w in winners for s in additions(w)]
    if len(items) < max(2, min_support):
        return []
    texts = [s for s, _ in items]
    vectors = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average",
    ).fit_predict(vectors.toarray())

    mined: list[MinedPattern] = []
    for label in sorted(set(labels)):
        members = [i for i, lab in enumerate(labels) if lab == label]
        experiments = sorted({items[i][1].experiment_id for i in members})
        if len(experiments) < min_support:
            continue
        cluster = [texts[i] for i in members]
        centre = _central(vectors[members])
        representative = cluster[centre]
        phrases = _recurring_phrases(cluster, CountVectorizer, min_support)
        name = " ".join(phrases[0].split()[:4]) if phrases else representative[:40]
        lifts = [items[i][1].lift for i in members]
        mined.append(MinedPattern(
            id="mined-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
            name=name.capitalize(),
            type=classify_pattern_type(" ".join(cluster)),
            template=f"$prompt\n\n{representative}",
            phrases=tuple(phrases),
            support=len(experiments),
            examples=tuple(dict.fromkeys(cluster))[:3],
            experiments=tuple(experiments),
            mean_lift=sum(lifts) / len(lifts),
        ))
    mined.sort(key=lambda m: (-m.support, -m.mean_lift, m.id))
    return mined


def _central(vectors: Any) -> int:
    """Index of the member closest to the cluster's mean direction."""
    import numpy as np

    dense = vectors.toarray()
    centre = dense.mean(axis=0)
    return int(np.argmax(dense @ centre))


def _recurring_phrases(cluster: list[str], vectorizer: Any, min_df: int) -> list[str]:
    """2-4 word phrases found in at least min_df of the cluster's sentences, longest first."""
    if len(cluster) < min_df:
        return []
    try:
        counts = vectorizer(ngram_range=(2, 4), min_df=min_df, stop_words=None).fit(cluster)
    except ValueError:  # no phrase reaches min_df
        return []
    phrases = sorted(counts.vocabulary_, key=lambda p: (-len(p.split()), p))
    kept: list[str] = []
    for p in phrases:
        if not any(p in k for k in kept):
            kept.append(p)
    return kept[:5]


def winners_from_results(results: Iterable[dict[str, Any]]) -> list[Winner]:
    """Significant winners and their controls from `promptopt run` result documents."""
    out = []
    for data in results:
        prompts = {v["variation_id"]: v["prompt"]
                   for r in data.get("rounds", []) for v in r["variations"]}
        for a in data.get("final_analyses", []):
            control = next((v for v in a["variations"] if v["is_control"]), None)
            if control is None:
                continue
            for v in a["variations"]:
                won = a.get("winner_id") == v["variation_id"] or (
                    v.get("p_adjusted") is not None and v["p_adjusted"] < a.get("alpha", 0.05)
                    and (v.get("lift") or 0) > 0)
                if won and not v["is_control"] and v["variation_id"] in prompts:
                    out.append(Winner(data["experiment_id"], prompts[v["variation_id"]],
                                      prompts.get(control["variation_id"], ""),
                                      v.get("lift") or 0.0))
    return out
