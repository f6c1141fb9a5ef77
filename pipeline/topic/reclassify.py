"""Re-score stored articles with the current topic profile and model (after either changes)."""
from __future__ import annotations

from pipeline import store
from pipeline.topic.evaluate import batches
from pipeline.topic.stage import load_stage
from pipeline.topic.training import active_model_path


def reclassify(db, profile_path: str, ids: list[int] | None = None) -> dict:
    """Classify the given (or all) stored articles; returns counts of what changed: `decisions`
    lists the articles whose flag flipped (id, now flagged, title); `rewritten` counts the rows
    stored again for any difference (a score, a reason, the profile's version)."""
    model = active_model_path(db)
    stage = load_stage(str(profile_path), str(model))
    seen = rewritten = flagged = 0
    decisions = []
    for batch in batches(store.iter_articles(db, ids)):
        before = store.flags_of(db, [article["id"] for article in batch])
        for article, result in zip(batch, stage.classify_many(batch)):
            seen += 1
            rewritten += store.save_classification(db, article["id"], result)
            now = bool(result["flagged"])
            flagged += now
            if before.get(article["id"], False) != now:
                decisions.append((article["id"], now, article.get("title") or ""))
    return {"articles": seen, "rewritten": rewritten, "decisions": decisions, "flagged": flagged,
            "model": stage.model.version if stage.model else "none"}
