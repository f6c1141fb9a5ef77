"""The topic stage: the rules (classify.py) and the trained model (model.py), one explained decision.

The rules decide, and the model may overturn them only at the margins, as the profile's
[model] table allows (see :func:`decide`): an article the rules found some evidence in but
too little is flagged when the model is confident; an article that just reached the rules'
threshold is dropped when the model is confident it is not about trafficking. The model is
consulted only in that margin. Every result carries the rule points, the model's probability
(null where it was not consulted) and a one-line reason.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pipeline.topic import rules
from pipeline.topic.model import TopicModel
from pipeline.topic.model import load as load_model
from pipeline.topic.rules import ModelPolicy, Profile


@dataclass(frozen=True)
class TopicStage:
    profile: Profile
    model: TopicModel | None = None

    def classify(self, *, title: str, text: str, language: str | None) -> dict:
        return self.classify_many([{"title": title, "text": text, "language": language}])[0]

    def classify_many(self, docs: Sequence[dict]) -> list[dict]:
        """Classify documents (title, text, language)."""
        results = [rules.classify(self.profile, title=d.get("title") or "", text=d.get("text") or "",
                                  language=d.get("language")) for d in docs]
        for doc, result in zip(docs, results, strict=True):
            probability: float | None = None
            model_version: str | None = None
            if self.model is not None and self.consults_model(result["score"]):
                probability = self.model.probability(doc.get("title") or "", doc.get("text") or "")
                model_version = self.model.version
            flagged, reason = decide(result["score"], self.profile.threshold, probability, self.profile.model)
            result.update(flagged=flagged, reason=reason, probability=probability, model_version=model_version)
            if not flagged:
                result["subtopics"] = []  # subtopics describe flagged stories only
        return results


    def consults_model(self, score: float) -> bool:
        """Only where the model may change the decision (evidence <= score < strong): elsewhere
        the rules decide alone, and most news (no evidence at all) costs no model time."""
        policy = self.profile.model
        return self.model is not None and policy.use and policy.evidence <= score < policy.strong


def decide(score: float, threshold: float, probability: float | None, policy: ModelPolicy) -> tuple[bool, str]:
    """Flagged or not, and why. Pure: the whole decision policy is here."""
    points = f"rules {score:g}"
    if probability is None:
        if score >= threshold:
            return True, f"{points} ≥ threshold {threshold:g}"
        return False, f"{points} < threshold {threshold:g}"
    model = f"model {probability:.2f}"
    if score >= threshold:
        if probability < policy.veto and score < policy.strong:
            return False, f"{points} ≥ threshold {threshold:g}, but {model} < veto {policy.veto:g}"
        return True, f"{points} ≥ threshold {threshold:g}; {model}"
    if probability >= policy.rescue and score >= policy.evidence:
        return True, f"{points} < threshold {threshold:g}, but {model} ≥ rescue {policy.rescue:g}"
    return False, f"{points} < threshold {threshold:g}; {model}"


@lru_cache(maxsize=4)
def load_stage(profile_path: str, model_path: str | None = None) -> TopicStage:
    """The stage for a profile file and a model file (None: rules only). Cached per process.
    A profile that does not use the model ([model] use = false) never loads it."""
    profile = rules.load_profile(profile_path)
    model = load_model(model_path) if model_path and profile.model.use else None
    return TopicStage(profile, model)
