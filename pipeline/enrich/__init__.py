"""What is read off an article's text besides its topic: the places it names and, for a
Vietnamese article, its English gist (and, with an operator's model, the title and lead in
English). Pure data in, plain data out: it runs in the crawl's worker processes as well as in
`tipwatch places`, and never touches the database."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.enrich.gist import build_gist, load_glossary
from pipeline.enrich.places import extract_places, load_gazetteer
from pipeline.enrich.translate import MT_DIR_ENV, TRANSLATOR_ENV, load_translator

LEAD_CHARS = 400  # the lead given to a translation model: the opening sentences, not the article


@dataclass(frozen=True)
class EnrichFiles:
    """What enrichment reads: the gazetteer and glossary files (of the seeds folder the
    configuration names) and the operator's translator, if any. Plain strings: it is handed to
    the crawl's worker processes with each page."""
    gazetteer: str
    glossary: str
    counting: str
    translator: str = ""   # TIPWATCH_TRANSLATOR, package.module:factory
    mt_dir: str = ""       # TIPWATCH_MT_DIR, a CTranslate2 model folder

    @classmethod
    def of(cls, seeds_dir: str | Path, environ: Mapping[str, str] | None = None) -> EnrichFiles:
        """The files of a seeds folder, and the translator *environ* (the configuration's
        snapshot of the environment) names."""
        seeds, env = Path(seeds_dir), environ or {}
        return cls(str(seeds / "places" / "gazetteer.csv"), str(seeds / "glossary" / "vi-en.toml"),
                   str(seeds / "glossary" / "gist.toml"), env.get(TRANSLATOR_ENV, "").strip(),
                   env.get(MT_DIR_ENV, "").strip())


def version(files: EnrichFiles) -> str:
    """Changes when the gazetteer or the glossary does, so `tipwatch places` redoes old rows."""
    return f"{load_gazetteer(files.gazetteer).version}-{load_glossary(files.glossary, files.counting).version}"


def lead(text: str) -> str:
    """The opening sentences of the text, up to LEAD_CHARS, cut at a sentence end when one fits."""
    head = " ".join((text or "").split())[:LEAD_CHARS]
    cut = max((m.end() for m in re.finditer(r"[.!?](?=\s)", head)), default=0)
    return head[:cut] if cut > LEAD_CHARS // 3 else head


def enrich(article: dict, files: EnrichFiles) -> dict:
    """{"places": [rows], "gist": str | None, "title_en", "lead_en", "method", "version"}."""
    title, text = article.get("title") or "", article.get("text") or ""
    gazetteer = load_gazetteer(files.gazetteer)
    found = extract_places(f"{title}\n{text}", gazetteer)
    result = {"places": [f.as_row() for f in found], "gist": None, "title_en": None, "lead_en": None,
              "method": None, "version": version(files)}
    if (article.get("language") or "") != "vi":
        return result
    glossary = load_glossary(files.glossary, files.counting)
    gist = build_gist(title, text, article.get("published"), glossary=glossary, gazetteer=gazetteer, places=found)
    result["gist"] = gist.text or None
    result["method"] = "glossary"
    translator = load_translator(files.translator, files.mt_dir)
    if translator is not None:
        result["title_en"], result["lead_en"] = translator.translate([title, lead(text)])
        result["method"] = f"glossary+{translator.name}"
    return result


def enrich_stored(db, files: EnrichFiles, everything: bool = False) -> dict:
    """Read places and gists for stored articles: those never read or read with another gazetteer
    or glossary (every article with `everything`). Returns counts for `tipwatch places`."""
    from pipeline import store  # here: the worker processes that import enrich() never need the database

    articles = places = gists = 0
    for article in list(store.articles_to_enrich(db, version(files), everything)):
        result = enrich(article, files)
        store.save_enrichment(db, article["id"], result)
        articles += 1
        places += len(result["places"])
        gists += result["gist"] is not None
    return {"articles": articles, "places": places, "gists": gists}
