"""Story grouping seen from `tipwatch digest`: same event in two outlets and in two
languages is one entry; a follow-up on a later day is marked as such; different events stay apart."""
from pathlib import Path

from pipeline import store

from conftest import tipwatch

CASES = Path(__file__).parent / "story_cases"


def load_case(name: str) -> dict:
    head, _, text = (CASES / f"{name}.txt").read_text(encoding="utf-8").partition("\n\n")
    meta = dict(line.split(": ", 1) for line in head.splitlines())
    return {"title": meta["title"], "source": meta["source"], "language": meta["language"],
            "published": meta["published"], "text": text, "url": f"https://{meta['source']}.test/{name}.html"}


def store_flagged(db, name: str) -> int:
    article_id = store.save_article(db, load_case(name))
    store.save_classification(db, article_id, {
        "score": 8.0, "flagged": True, "matched_terms": ["trafficking"], "snippet": "…",
        "subtopics": [], "countries": [], "profile_version": "test"})
    return article_id


def test_digest_groups_stories_and_marks_follow_ups(tmp_path):
    db = store.open_db(tmp_path / "t.db")
    args = ["--db", tmp_path / "t.db", "--digests-dir", tmp_path / "digests"]
    store_flagged(db, "vns_hatinh_arrest")
    tipwatch("digest", "--day", "2026-11-16", *args)
    for name in ("vne_nghean_rescue", "tuoitre_nghean_rescue", "bcp_laocai_en", "bcp_laocai_vi",
                 "tuoitre_hatinh_followup", "vns_hagiang_rescue", "vns_nghean_drugs"):
        store_flagged(db, name)
    out = tipwatch("digest", "--day", "2026-11-20", *args).stdout
    assert out.endswith("(7 flagged articles in 5 stories)\n")
    text = (tmp_path / "digests" / "2026-11-20.md").read_text(encoding="utf-8")
    assert text.count("\n## ") == 5
    assert text.count("Also reported:") == 2
    assert text.count("- Follow-up to a story sent on 2026-11-16: ") == 1
    keys = {row["article_id"]: row["story_key"] for row in db.query("SELECT article_id, story_key FROM digest_items")}
    assert keys[1] == keys[6]  # the follow-up keeps the earlier story's key
