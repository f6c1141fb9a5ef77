"""Re-score stored articles with the current topic profile and model (after either changes)."""
from __future__ import annotations

from collections.abc import Callable

from pipeline import store
from pipeline.topic.evaluate import batches
from pipeline.topic.stage import load_stage


def reclassify(db, profile_path: str, model_path: str | None, ids: list[int] | None = None,
               on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Classify the given (or all) stored articles; returns counts of what changed: `decisions`
    lists the articles whose flag flipped (id, now flagged, title); `rewritten` counts the rows
    stored again for any difference (a score, a reason, the profile's version). `on_progress(done,
    total)` is called after each batch; Ctrl-C (KeyboardInterrupt) ends the run between two
    articles, each one stored so far kept, with `interrupted` set (a re-run redoes the rest)."""
    stage = load_stage(str(profile_path), model_path and str(model_path))
    total = len(ids) if ids is not None else store.article_count(db)
    seen = rewritten = flagged = 0
    decisions = []
    interrupted = False
    try:
        for batch in batches(store.iter_articles(db, ids)):
            before = store.flags_of(db, [article["id"] for article in batch])
            for article, result in zip(batch, stage.classify_many(batch), strict=True):
                rewritten += store.save_classification(db, article["id"], result)  # one transaction each
                seen += 1
                now = bool(result["flagged"])
                flagged += now
                if before.get(article["id"], False) != now:
                    decisions.append((article["id"], now, article.get("title") or ""))
            if on_progress:
                on_progress(seen, total)
    except KeyboardInterrupt:
        interrupted = True
    return {"articles": seen, "rewritten": rewritten, "decisions": decisions, "flagged": flagged,
            "model": stage.model.version if stage.model else "none", "interrupted": interrupted}
