"""Re-score stored articles with the current topic profile and model (after either changes)."""
from __future__ import annotations

from . import store
from .evaluate import batches
from .topic import load_stage
from .training import active_model_path


def reclassify(db, profile_path: str, ids: list[int] | None = None) -> dict:
    """Classify the given (or all) stored articles; returns counts of what changed."""
    model = active_model_path(db)
    stage = load_stage(str(profile_path), str(model))
    seen = changed = flagged = 0
    for batch in batches(store.iter_articles(db, ids)):
        for article, result in zip(batch, stage.classify_many(batch)):
            seen += 1
            changed += store.save_classification(db, article["id"], result)
            flagged += bool(result["flagged"])
    return {"articles": seen, "changed": changed, "flagged": flagged, "model": stage.model.version}
