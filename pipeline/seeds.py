"""The user's seed corpus: text files in seeds/corpus/, described by seeds/corpus.toml,
stored as articles of source `seed` and classified like crawled ones."""
from __future__ import annotations

import re
import tomllib
import unicodedata
from pathlib import Path

from pipeline import store
from pipeline.enrich import enrich
from pipeline.process import StageSettings, classify_article

SEED_SOURCE = "seed"
# page chrome that survives in copied article text: a page-header "today" date, the
# "Update:" stamp (kept as the date, not the text), comment boxes, "See also" blocks
_CHROME_LINE = re.compile(
    r"^(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \w+ \d{1,2},? \d{4}"
    r"|Update: .*|Send Us Your Comments:?|See also:?|Comment \(\d+\).*|Bình luận \(\d+\).*)$")


class SeedError(ValueError):
    pass


def seed_body(raw: str, title: str) -> str:
    lines = [line.strip() for line in unicodedata.normalize("NFC", raw).splitlines()]
    kept = [line for line in lines if line and line != title and not _CHROME_LINE.match(line)]
    return "\n".join(kept)


def load_corpus(seeds_dir: Path) -> list[dict]:
    """The corpus described by `seeds_dir`/corpus.toml, its texts in `seeds_dir`/corpus/."""
    meta_file, corpus_dir = Path(seeds_dir) / "corpus.toml", Path(seeds_dir) / "corpus"
    entries = tomllib.loads(meta_file.read_text(encoding="utf-8")).get("seed", [])
    articles = []
    for entry in entries:
        for key in ("file", "title", "published", "language"):
            if key not in entry:
                raise SeedError(f"{meta_file}: seed {entry.get('file', '?')!r}: key {key!r} missing")
        raw = (corpus_dir / entry["file"]).read_text(encoding="utf-8")
        articles.append({
            "url": entry.get("url") or f"seed:corpus/{entry['file']}",
            "source": SEED_SOURCE,
            "title": entry["title"],
            "text": seed_body(raw, entry["title"]),
            "author": entry.get("author"),
            "published": entry["published"],
            "date_source": "corpus",
            "language": entry["language"],
            "sitename": entry.get("sitename"),
            "description": entry.get("source_url"),
            "tags": [],
        })
    return articles


def import_seeds(db, stages: StageSettings, seeds_dir: Path) -> list[dict]:
    """Store and classify every seed of `seeds_dir`; returns [{id, title, flagged}] (idempotent)."""
    results = []
    for article in load_corpus(seeds_dir):
        article_id = store.save_article(db, article)
        classification = classify_article(stages.profile, article, stages.model)
        store.save_classification(db, article_id, classification)
        store.save_enrichment(db, article_id, enrich(article, stages.enrich))  # places, gist
        results.append({"id": article_id, "title": article["title"], "flagged": classification["flagged"]})
    return results
