"""Re-score stored articles with the current topic profile (after the profile changes)."""
from __future__ import annotations

from . import store
from .process import classify_article


def reclassify(db, profile_path: str, ids: list[int] | None = None) -> dict:
    """Classify the given (or all) stored articles; returns counts of what changed."""
    seen = changed = flagged = 0
    for article in store.iter_articles(db, ids):
        result = classify_article(profile_path, article)
        seen += 1
        changed += store.save_classification(db, article["id"], result)
        flagged += bool(result["flagged"])
    return {"articles": seen, "changed": changed, "flagged": flagged}
