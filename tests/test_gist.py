"""The English gist of Vietnamese articles (pipeline/enrich/gist.py), the translation plug-in point
(pipeline/enrich/translate.py) and the gist in every channel."""
import pytest

from alerts.digest import build_digest, render_markdown
from alerts.render import render_email_html, render_email_text, slack_messages
from pipeline import store
from pipeline.enrich import enrich, translate
from pipeline.enrich.gist import build_gist, load_glossary
from pipeline.enrich.places import extract_places, load_gazetteer

from conftest import article, enrich_files, verdict

FILES = enrich_files()


def gist_of(title: str, text: str, published: str):
    gazetteer = load_gazetteer(FILES.gazetteer)
    return build_gist(title, text, published, glossary=load_glossary(FILES.glossary, FILES.counting),
                      gazetteer=gazetteer, places=extract_places(f"{title}\n{text}", gazetteer))


RESCUE = ("Giải cứu 27 công dân bị lừa sang Campuchia",
          "Công an tỉnh Tây Ninh vừa giải cứu, tiếp nhận 27 công dân trở về từ Svay Rieng qua cửa khẩu "
          "Mộc Bài. Ngày 20/11/2026 sẽ xét xử 3 bị cáo.")


def test_gist_renders_people_places_dates_and_terms():
    gist = gist_of(*RESCUE, "2026-11-18")
    assert gist.counts == ["27 citizens rescued", "3 defendants tried"]
    assert gist.places == "Tây Ninh, Mộc Bài (Viet Nam) ← Svay Rieng (Cambodia)"
    assert gist.dates == ["trial 2026-11-20"]
    assert "rescue" in gist.terms and "cambodia" not in gist.terms  # a country is a place, not a term
    assert gist.text.startswith("27 citizens rescued · 3 defendants tried · Tây Ninh")


def test_a_date_without_year_takes_the_articles_and_plain_dates_are_left_out():
    assert gist_of("Tin", "Thứ Bảy, 21/11/2026. Xét xử vào ngày 2/12.", "2026-11-21").dates == ["trial 2026-12-02"]
    assert gist_of("Tin", "Thứ Bảy, 21/11/2026 10:12", "2026-11-21").dates == []


def test_english_articles_get_places_but_no_gist():
    result = enrich({"title": "Rescue", "text": "Police in Tay Ninh", "language": "en"}, FILES)
    assert result["gist"] is None and [p["place"] for p in result["places"]] == ["Tây Ninh"]
    vi = enrich({"title": RESCUE[0], "text": RESCUE[1], "language": "vi"}, FILES)
    assert vi["method"] == "glossary" and vi["title_en"] is None


def test_an_operators_translator_is_used_for_title_and_lead():
    files = enrich_files({translate.TRANSLATOR_ENV: "fake_translator:make"})
    result = enrich({"title": RESCUE[0], "text": RESCUE[1], "language": "vi"}, files)
    assert result["title_en"] == "Rescue of 27 citizens tricked into going to Cambodia"
    assert result["lead_en"].startswith("[en] Công an tỉnh Tây Ninh") and result["method"] == "glossary+fake-mt"


@pytest.mark.parametrize("env, value, message", [
    (translate.TRANSLATOR_ENV, "fake_translator:nothing", "TIPWATCH_TRANSLATOR=fake_translator:nothing"),
    (translate.TRANSLATOR_ENV, "no_colon", "package.module:factory"),
    (translate.MT_DIR_ENV, "/nonexistent/model", "no such directory"),
])
def test_a_misconfigured_translator_is_an_error_naming_the_variable(env, value, message):
    files = enrich_files({env: value})
    with pytest.raises(translate.TranslatorError, match=message):
        enrich({"title": RESCUE[0], "text": RESCUE[1], "language": "vi"}, files)


def test_the_gist_is_beside_the_vietnamese_title_in_every_channel(db):
    vi = article(1, language="vi", title=RESCUE[0], text=RESCUE[1])
    article_id = store.save_article(db, vi)
    store.save_classification(db, article_id, verdict(True))
    store.save_enrichment(db, article_id, enrich(vi, enrich_files({translate.TRANSLATOR_ENV: "fake_translator:make"})))
    digest = build_digest(db, "2026-11-20")
    gist = "27 citizens rescued · 3 defendants tried · Tây Ninh, Mộc Bài (Viet Nam) ← Svay Rieng (Cambodia)"
    markdown = render_markdown(digest)
    assert f"- English gist (not a translation): {gist}" in markdown
    assert "Title, machine-translated: Rescue of 27 citizens" in markdown
    assert f"English gist (not a translation): {gist}" in render_email_text(digest)
    assert gist.replace("←", "&larr;") in render_email_html(digest) or gist in render_email_html(digest)
    slack = str(slack_messages(digest))
    assert "English gist (not a translation):_ 27 citizens rescued" in slack and "Tây Ninh" in slack
