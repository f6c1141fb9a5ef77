"""Which model is in use, and `tipwatch train`: retrain from shipped + analyst labels, score, record.

Models live beside the database, in `<db folder>/models/<version>.json.gz`, and each one
`tipwatch train` made has a row in the `models` table; the newest is in use. A database with
no trained model uses the base model: trained from the shipped training split alone, on first
use, and cached (per scikit-learn version) in tipwatch's cache folder.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline import store
from pipeline.topic import labelled
from pipeline.topic import model as topic_model
from pipeline.topic.evaluate import evaluate, figures
from pipeline.topic.stage import TopicStage


@dataclass(frozen=True)
class ModelFiles:
    """Where the topic model's data is: the shipped labelled splits (seeds/labelled) and the
    cache folder that keeps the base model trained from them."""
    labelled_dir: Path
    cache_dir: Path


def models_dir(db_path: Path) -> Path:
    return Path(db_path).parent / "models"


def base_model_path(files: ModelFiles) -> Path:
    """The model trained from the shipped training split only (trained once, then cached)."""
    examples = labelled.shipped("train", files.labelled_dir)
    path = Path(files.cache_dir) / "models" / f"base-{topic_model.version_of(examples)}.json.gz"
    if not path.exists():
        topic_model.save(topic_model.train(examples), path)
    return path


def active_model_path(db, files: ModelFiles) -> Path:
    """The newest model `tipwatch train` recorded in this database, else the base model."""
    for row in store.trained_models(db):
        if Path(row["path"]).exists():
            return Path(row["path"])
    return base_model_path(files)


def analyst_examples(db) -> list[labelled.Example]:
    return [labelled.Example(id=f"article:{row['id']}", title=row["title"] or "", text=row["text"] or "",
                             lang=row["language"] or "", label=row["label"], origin="analyst")
            for row in store.labelled_articles(db)]


def training_examples(db, labelled_dir: Path) -> list[labelled.Example]:
    """The shipped training split, then the analyst's labels (never the held-out test split)."""
    return labelled.shipped("train", labelled_dir) + analyst_examples(db)


TRAIN_STEPS = 4  # fit, save, score the stage, score the model alone


def train(db, db_path: Path, profile, labelled_dir: Path,
          on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Train on shipped + analyst labels, score on the held-out test split, save and record.
    `on_progress(step, TRAIN_STEPS)` after each step; nothing is recorded before the last, so an
    interrupted training leaves the model in use as it was."""
    step = _stepper(on_progress)
    examples = training_examples(db, labelled_dir)
    trained = topic_model.train(examples)
    step()
    path = topic_model.save(trained, models_dir(db_path) / f"{trained.version}.json.gz")
    step()
    test = labelled.shipped("test", labelled_dir)
    combined = evaluate(TopicStage(profile, trained), test)
    step()
    scores = {"combined": combined, "model_only": _model_only(trained, test)}
    step()
    overall = scores["combined"]
    record = {"version": trained.version, "path": str(path.resolve()),
              "n_train": len(examples), "n_analyst": sum(ex.origin == "analyst" for ex in examples),
              "precision": overall["precision"], "recall": overall["recall"], "f1": overall["f1"],
              "scores": json.dumps(scores, ensure_ascii=False)}
    store.save_model(db, record)
    return dict(record, scores=scores, n_test=len(test))


def _stepper(on_progress):
    done = [0]

    def step() -> None:
        done[0] += 1
        if on_progress:
            on_progress(done[0], TRAIN_STEPS)
    return step


def _model_only(trained: topic_model.TopicModel, examples) -> dict:
    probabilities = trained.probabilities([(ex.title, ex.text) for ex in examples])
    return figures(examples, [p >= 0.5 for p in probabilities])
