"""`tipwatch reprocess`: run extraction, classification and enrichment again on stored articles,
from the pages kept in the WARC archive, with no network.

An article is re-read from its record (pipeline.archive), through the crawl's own page → article
function (pipeline.process), and its row, classification and places/gist are rewritten where they
differ. Each article is one transaction, recorded in `article_processing` with the versions it
was read with (`stage_version`): an interrupted run keeps what it did, and a re-run skips what was
already re-read with the same versions. Pure of the app: the database, the archive, the profile
and model files and the sources are handed in.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from pipeline import store
from pipeline.archive import ArchiveError, PageArchive
from pipeline.enrich import version as enrich_version
from pipeline.process import StageSettings, process_page
from pipeline.records import FetchedPage, PageRef
from pipeline.topic.stage import load_stage

Progress = Callable[[int, int], None]  # on_progress(done, total)
_EXTRACT_DIR = Path(__file__).resolve().parent / "extract"
_EXTRACT_LIBRARIES = ("trafilatura", "htmldate", "lxml")


def extractor_version() -> str:
    """Changes with the extraction code or the libraries it leans on: a hash of the extract
    package's sources and their versions (a code change is a new extractor)."""
    digest = hashlib.sha256()
    for path in sorted(_EXTRACT_DIR.glob("*.py")) + [Path(__file__).resolve().parent / "process.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in _EXTRACT_LIBRARIES:
        digest.update(f"{name}={_installed(name)}".encode())
    return digest.hexdigest()[:12]


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def stage_version(stages: StageSettings) -> str:
    """What an article re-read now is read with: profile, model, extractor, gazetteer/glossary."""
    stage = load_stage(stages.profile, stages.model)
    model = stage.model.version if stage.model else "none"
    return f"{stage.profile.version}|{model}|extract-{extractor_version()}|enrich-{enrich_version(stages.enrich)}"


def process_record(page: FetchedPage, source, stages: StageSettings, language: str | None = None) -> dict:
    """process_page's result for a kept page, as in the crawl: `source` (a Source or None) gives
    the language hint and timezone; `language` is the hint when the source is unknown. Its
    dates are judged against the time it was fetched, not today."""
    return process_page(page, stages, language=getattr(source, "language", None) or language,
                        timezone=getattr(source, "timezone", None))


@dataclass
class ReprocessReport:
    selected: int = 0        # articles the options chose
    skipped: int = 0         # already re-read with these versions (an earlier, interrupted run)
    reprocessed: int = 0     # re-read from their record
    text_changed: int = 0
    date_changed: int = 0
    decisions: list = field(default_factory=list)  # (id, now flagged, title) of flipped decisions
    rows_changed: int = 0    # articles whose row, decision or classification was rewritten
    no_record: int = 0       # stored before pages were kept, or their file pruned
    unreadable: int = 0      # the reference points at nothing readable
    failed: int = 0          # the page no longer extracts (the stored row is kept)
    interrupted: bool = False


@dataclass(frozen=True)
class ReprocessJob:
    """What to re-read and with what (all plain data)."""
    stages: StageSettings
    sources: Mapping  # name → Source (language, timezone)
    source: str | None = None
    since: str | None = None
    redo: bool = False  # re-read even articles already re-read with these versions


def reprocess(db, archive: PageArchive, job: ReprocessJob, on_progress: Progress | None = None) -> ReprocessReport:
    """Re-read the selected articles; Ctrl-C (KeyboardInterrupt) ends the run between two
    articles, with what was done committed and `interrupted` set."""
    version = stage_version(job.stages)
    report = ReprocessReport()
    rows = store.articles_to_reprocess(db, source=job.source, since=job.since,
                                       skip_version=None if job.redo else version)
    report.skipped = 0 if job.redo else store.count_processed(db, version, source=job.source, since=job.since)
    report.selected = len(rows) + report.skipped
    try:
        for done, row in enumerate(rows, 1):
            _reprocess_one(db, archive, job, version, row, report)
            if on_progress:
                on_progress(done, len(rows))
    except KeyboardInterrupt:
        report.interrupted = True  # the article in hand was rolled back; those before are stored
    return report


def _reprocess_one(db, archive: PageArchive, job: ReprocessJob, version: str, row: dict,
                   report: ReprocessReport) -> None:
    if row["warc_file"] is None:
        report.no_record += 1
        return
    try:
        page = archive.read(PageRef(row["warc_file"], row["warc_offset"]))
    except ArchiveError:
        report.unreadable += 1
        return
    result = process_record(page, job.sources.get(row["source"]), job.stages, language=row["language"])
    if not result["ok"]:
        report.failed += 1
        return
    report.reprocessed += 1
    with store.immediate(db):  # the row, its decision and its version together, or none of them
        changed = _rewrite(db, row["id"], result, report)
        store.mark_processed(db, row["id"], version)
    report.rows_changed += changed


def _rewrite(db, article_id: int, result: dict, report: ReprocessReport) -> bool:
    """Store what the page reads as now; counts what changed. True when anything was rewritten."""
    before = store.article_state(db, article_id)
    fields = store.article_row(result["article"])
    changed = store.update_article_fields(db, article_id, fields)
    report.text_changed += before["text"] != fields["text"]
    report.date_changed += before["published"] != fields["published"]
    changed |= store.save_classification(db, article_id, result["classification"])
    now = bool(result["classification"]["flagged"])
    if before["flagged"] is not None and before["flagged"] != now:
        report.decisions.append((article_id, now, fields["title"] or ""))
    # places and gist follow the text: rewritten when it (or the gazetteer/glossary) changed
    if changed or store.gist_version(db, article_id) != result["enrichment"]["version"]:
        store.save_enrichment(db, article_id, result["enrichment"])
    return changed
