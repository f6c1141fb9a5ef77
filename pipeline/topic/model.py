"""The trained half of the topic stage: TF-IDF over word and character n-grams, logistic regression.

Trained here with scikit-learn, from labelled examples (the shipped training split plus the
analyst's labels), in a few seconds; nothing is ever downloaded. What training learns is saved
as plain data (gzipped JSON: per n-gram its idf and its weight) and scored by this module in pure
Python: the crawl's extraction workers never import scikit-learn (about 80 MB and 1.3 s each),
no pickle is ever loaded, and a model file outlives scikit-learn upgrades.

A model's version is a hash of everything that made it (examples, feature settings,
scikit-learn's version), so training twice on the same data gives the same version and file.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version as package_version
from pathlib import Path

from pipeline.topic.labelled import Example
from pipeline.topic.rules import normalize

# Bump when the features or the learner change: older model files are then retrained.
FEATURES = "words1-2+charwb2-5x60k/lr-balanced-C4/v2"
MAX_CHARS = 20000  # enough for any news article; bounds the cost of a pathological page
WORD_PATTERN = r"(?u)\b\w+\b"
_WORDS = re.compile(WORD_PATTERN)
_SPACES = re.compile(r"\s\s+")


class ModelError(RuntimeError):
    """A model cannot be trained or loaded; the message says which and why."""


@dataclass(frozen=True)
class NgramWeights:
    """One TF-IDF block: how its n-grams are cut, and per n-gram (idf, weight in the model)."""
    analyzer: str  # "word" | "char_wb" (scikit-learn's meanings)
    ngram_range: tuple[int, int]
    terms: dict

    def grams(self, text: str) -> list[str]:
        low, high = self.ngram_range
        if self.analyzer == "word":
            tokens = _WORDS.findall(text)
            return [" ".join(tokens[i:i + n]) for n in range(low, high + 1) for i in range(len(tokens) - n + 1)]
        out: list[str] = []
        for word in _SPACES.sub(" ", text).split():
            padded = f" {word} "
            for n in range(low, high + 1):
                out.extend(padded[i:i + n] for i in range(max(len(padded) - n + 1, 1)))
                if len(padded) <= n:  # a short word counts once, as in scikit-learn
                    break
        return out

    def score(self, text: str) -> float:
        """The block's share of the decision function: l2-normalised sublinear TF-IDF · weights."""
        dot = square = 0.0
        terms = self.terms
        for gram, count in Counter(self.grams(text)).items():
            known = terms.get(gram)
            if known is not None:
                value = (1.0 + math.log(count)) * known[0]
                dot += value * known[1]
                square += value * value
        return dot / math.sqrt(square) if square else 0.0


@dataclass(frozen=True)
class TopicModel:
    version: str
    blocks: tuple[NgramWeights, ...]
    intercept: float

    def probabilities(self, docs: Sequence[tuple[str, str]]) -> list[float]:
        """P(trafficking) for each (title, text)."""
        return [self.probability(title, text) for title, text in docs]

    def probability(self, title: str, text: str) -> float:
        document = model_text(title, text)
        z = self.intercept + sum(block.score(document) for block in self.blocks)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def model_text(title: str, text: str) -> str:
    # the title twice: a headline says what the story is about more densely than its body
    return normalize(f"{title}\n{title}\n{text[:MAX_CHARS]}")


@lru_cache(maxsize=1)
def sklearn_version() -> str:
    return package_version("scikit-learn")


def estimator():
    """The scikit-learn pipeline that learns the weights (imported only to train)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=WORD_PATTERN,
                            sublinear_tf=True, min_df=1, lowercase=False)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                            max_features=60000, lowercase=False)
    return Pipeline([
        ("features", FeatureUnion([("words", words), ("chars", chars)])),
        ("lr", LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear", max_iter=1000)),
    ])


def version_of(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256(f"{FEATURES}|sklearn {sklearn_version()}".encode())
    for ex in sorted(examples, key=lambda e: (e.origin, e.id)):
        digest.update(f"\0{ex.origin}\0{ex.id}\0{ex.label}\0{ex.title}\0{ex.text}".encode())
    return "m" + digest.hexdigest()[:11]


def fit(examples: Sequence[Example]):
    """The fitted scikit-learn pipeline (see :func:`train` for the model tipwatch uses)."""
    labelled = [ex for ex in examples if ex.label in (0, 1)]
    labels = {ex.label for ex in labelled if ex.label is not None}  # all of them (0 or 1)
    if labels != {0, 1}:
        raise ModelError(f"training needs examples of both labels; got {len(labelled)} examples "
                         f"with labels {sorted(labels)}")
    fitted = estimator()
    fitted.fit([model_text(ex.title, ex.text) for ex in labelled], [ex.label for ex in labelled])
    return fitted


def train(examples: Sequence[Example]) -> TopicModel:
    labelled = [ex for ex in examples if ex.label in (0, 1)]
    return from_estimator(version_of(labelled), fit(labelled))


def from_estimator(version: str, fitted) -> TopicModel:
    """Read the learnt weights out of a fitted pipeline: one block per vectorizer, in order."""
    lr = fitted.named_steps["lr"]
    sign = 1.0 if list(lr.classes_) == [0, 1] else -1.0
    coef, offset, blocks = lr.coef_[0], 0, []
    for _, vectorizer in fitted.named_steps["features"].transformer_list:
        terms = {}
        for term, column in vectorizer.vocabulary_.items():
            terms[term] = (float(vectorizer.idf_[column]), sign * float(coef[offset + column]))
        offset += len(vectorizer.vocabulary_)
        blocks.append(NgramWeights(vectorizer.analyzer, tuple(vectorizer.ngram_range), terms))
    return TopicModel(version, tuple(blocks), sign * float(lr.intercept_[0]))


def save(model: TopicModel, path: Path) -> Path:
    """Write atomically: a concurrent reader sees the old file or the new one, never half."""
    data = {"version": model.version, "features": FEATURES, "intercept": model.intercept,
            "blocks": [{"analyzer": b.analyzer, "ngram_range": list(b.ngram_range),
                        "terms": {t: [round(i, 6), round(w, 6)] for t, (i, w) in sorted(b.terms.items())}}
                       for b in model.blocks]}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        # no name and no time in the gzip header: the same model is the same bytes
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
            out.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load(path: str | Path) -> TopicModel:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
        blocks = tuple(NgramWeights(b["analyzer"], tuple(b["ngram_range"]),
                                    {t: tuple(v) for t, v in b["terms"].items()}) for b in data["blocks"])
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"model {path}: cannot load: {exc.__class__.__name__}: {exc}") from exc
    if data.get("features") != FEATURES:
        raise ModelError(f"model {path}: made by another version of tipwatch; run `tipwatch train` again")
    return TopicModel(data["version"], blocks, float(data["intercept"]))
