"""The trained half of the topic stage: TF-IDF over word and character n-grams, logistic regression.

Trained here, from labelled examples (the shipped training split plus the analyst's labels),
in a few seconds; nothing is ever downloaded. A model's version is a hash of everything that
made it (examples, feature settings, scikit-learn's version), so training twice on the same
data gives the same version and the same file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Iterable, Sequence

from .classify import normalize
from .labelled import Example

# Bump when the features or the learner change: older model files are then retrained.
FEATURES = "words1-2+charwb2-5/lr-balanced-C4/v1"
MAX_CHARS = 20000  # enough for any news article; bounds the cost of a pathological page


class ModelError(RuntimeError):
    """A model cannot be trained or loaded; the message says which and why."""


@dataclass(frozen=True)
class TopicModel:
    version: str
    estimator: Any  # a fitted sklearn Pipeline (scikit-learn is imported only when a model is used)

    def probabilities(self, docs: Sequence[tuple[str, str]]) -> list[float]:
        """P(trafficking) for each (title, text)."""
        if not docs:
            return []
        column = list(self.estimator.classes_).index(1)
        return [float(p[column]) for p in self.estimator.predict_proba([model_text(t, x) for t, x in docs])]

    def probability(self, title: str, text: str) -> float:
        return self.probabilities([(title, text)])[0]


def model_text(title: str, text: str) -> str:
    # the title twice: a headline says what the story is about more densely than its body
    return normalize(f"{title}\n{title}\n{text[:MAX_CHARS]}")


@lru_cache(maxsize=1)
def sklearn_version() -> str:
    return package_version("scikit-learn")


def _estimator():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b",
                            sublinear_tf=True, min_df=1, lowercase=False)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                            max_features=150000, lowercase=False)
    return Pipeline([
        ("features", FeatureUnion([("words", words), ("chars", chars)])),
        ("lr", LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear", max_iter=1000)),
    ])


def version_of(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256(f"{FEATURES}|sklearn {sklearn_version()}".encode())
    for ex in sorted(examples, key=lambda e: (e.origin, e.id)):
        digest.update(f"\0{ex.origin}\0{ex.id}\0{ex.label}\0{ex.title}\0{ex.text}".encode())
    return "m" + digest.hexdigest()[:11]


def train(examples: Sequence[Example]) -> TopicModel:
    labelled = [ex for ex in examples if ex.label in (0, 1)]
    labels = {ex.label for ex in labelled}
    if labels != {0, 1}:
        raise ModelError(f"training needs examples of both labels; got {len(labelled)} examples "
                         f"with labels {sorted(labels)}")
    estimator = _estimator()
    estimator.fit([model_text(ex.title, ex.text) for ex in labelled], [ex.label for ex in labelled])
    return TopicModel(version_of(labelled), estimator)


def save(model: TopicModel, path: Path) -> Path:
    """Write atomically: a concurrent reader sees the old file or the new one, never half."""
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump({"version": model.version, "features": FEATURES, "sklearn": sklearn_version(),
                     "estimator": model.estimator}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load(path: str | Path) -> TopicModel:
    import joblib

    try:
        data = joblib.load(path)
    except Exception as exc:  # unpickling reports anything from EOFError to ModuleNotFoundError
        raise ModelError(f"model {path}: cannot load: {exc.__class__.__name__}: {exc}") from exc
    if not isinstance(data, dict) or data.get("features") != FEATURES or data.get("sklearn") != sklearn_version():
        raise ModelError(f"model {path}: made by another version of tipwatch or scikit-learn; "
                         "run `tipwatch train` again")
    return TopicModel(data["version"], data["estimator"])
