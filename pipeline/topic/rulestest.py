"""`tipwatch rules test`: what a changed profile would do, before it is switched on.

Both profiles are scored with the same model on the labelled sets (shipped train and
test splits, the analyst's labels) and on every stored article; the report lists the
stored articles the candidate would newly flag or unflag.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline import store
from pipeline.topic import labelled
from pipeline.topic.evaluate import batches, evaluate
from pipeline.topic.stage import TopicStage
from pipeline.topic.training import analyst_examples

SUMMARY_KEYS = ("precision", "recall", "f1", "tp", "fp", "fn", "tn", "n")


def labelled_sets(db, labelled_dir: Path) -> dict[str, list[labelled.Example]]:
    sets = {"shipped train": labelled.shipped("train", labelled_dir),
            "shipped test": labelled.shipped("test", labelled_dir)}
    if db is not None:
        sets["analyst labels"] = analyst_examples(db)
    return sets


def rules_test(active: TopicStage, candidate: TopicStage, labelled_dir: Path, db=None) -> dict:
    report: dict[str, Any] = {"active": active.profile.version, "candidate": candidate.profile.version,
                              "model": candidate.model.version if candidate.model else None, "labelled": {}}
    for name, examples in labelled_sets(db, labelled_dir).items():
        if examples:
            report["labelled"][name] = {which: _summary(evaluate(stage, examples))
                                        for which, stage in (("active", active), ("candidate", candidate))}
    report.update(_stored_changes(active, candidate, db) if db is not None else
                  {"stored": 0, "newly_flagged": [], "newly_unflagged": []})
    return report


def _summary(figures: dict) -> dict:
    out = {k: figures[k] for k in SUMMARY_KEYS}
    out["by_lang"] = {lang: {k: v[k] for k in ("precision", "recall", "n")}
                      for lang, v in figures["by_lang"].items()}
    return out


def _stored_changes(active: TopicStage, candidate: TopicStage, db) -> dict:
    flagged: list[dict] = []
    unflagged: list[dict] = []
    seen = 0
    for batch in batches(store.iter_articles(db)):
        seen += len(batch)
        for article, old, new in zip(batch, active.classify_many(batch), candidate.classify_many(batch), strict=True):
            if old["flagged"] != new["flagged"]:
                row = {"id": article["id"], "title": article["title"], "score_active": old["score"],
                       "score_candidate": new["score"], "reason": new["reason"]}
                (flagged if new["flagged"] else unflagged).append(row)
    return {"stored": seen, "newly_flagged": flagged, "newly_unflagged": unflagged}


def report_lines(report: dict) -> list[str]:
    lines = [f"active profile {report['active']}, candidate {report['candidate']}, model {report['model']}"]
    for name, pair in report["labelled"].items():
        for which in ("active", "candidate"):
            f = pair[which]
            langs = ", ".join(f"{lang} P {_pct(v['precision'])} R {_pct(v['recall'])}"
                              for lang, v in f["by_lang"].items())
            lines.append(f"{name:15} {which:9} P {_pct(f['precision'])} R {_pct(f['recall'])} "
                         f"F1 {_pct(f['f1'])} (n {f['n']}; fp {f['fp']}, fn {f['fn']})  [{langs}]")
    lines.append(f"stored articles: {report['stored']}; newly flagged {len(report['newly_flagged'])}, "
                 f"newly unflagged {len(report['newly_unflagged'])}")
    for sign, rows in (("+", report["newly_flagged"]), ("-", report["newly_unflagged"])):
        lines.extend(f"  {sign} {r['id']}: {r['title']} ({r['score_active']:g} → {r['score_candidate']:g})"
                     for r in rows)
    return lines


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
