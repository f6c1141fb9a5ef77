"""Tests for pipeline.extract.article (decoding, body cleanup, metadata, publication dates).

Fixtures in tests/extract_pages/ are small hand-made pages reproducing real page chrome of
the first sources (VNS page-header date + "Update:" line, baochinhphu captions / byline /
"Source:" line / "Comment (0)", a Vietnamese page in NFD, a windows-1258 page, a page whose
declared encoding is wrong, a JSON-LD dated page, an empty shell).
"""
from __future__ import annotations

import pickle
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.extract.article import ExtractionError, ExtractOptions, clean_text, decode_html, extract_article
from pipeline.extract.dates import parse_date_string, url_date

PAGES = Path(__file__).parent / "extract_pages"
REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 8, 1, 12, 0, 0)
OPTS = ExtractOptions(now=NOW)

VNS_URL = "https://vietnamnews.vn/society/221644/mekong-countries-discuss-strategies-to-stop-trafficking.html"
VGP_EN_URL = ("https://en.baochinhphu.vn/viet-nams-strong-commitment-to-fighting-human-trafficking-in-cyberspace"
              "-111250728160512345.htm")
VGP_VI_URL = "https://baochinhphu.vn/triet-pha-duong-day-mua-ban-nguoi-102250728144405775.htm"
VI_TITLE = "Triệt phá đường dây mua bán người sang Campuchia"
VI_FIRST = ("Công an tỉnh An Giang vừa triệt phá một đường dây mua bán người, giải cứu 15 nạn nhân "
            "bị lừa sang Campuchia làm việc với lời hứa hẹn mức lương cao.")
VI_LAST = ("Cơ quan công an đã khởi tố vụ án, khởi tố bị can đối với 4 đối tượng về tội mua bán người "
           "theo Điều 150 Bộ luật Hình sự.")
KEYS = {"title", "text", "author", "published", "date_source", "language", "sitename", "description",
        "tags", "canonical_url", "image"}


def page(name: str, declared: str | None = None) -> str:
    return decode_html((PAGES / name).read_bytes(), declared)


def assert_all_nfc(result: dict) -> None:
    for key, value in result.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str):
                assert unicodedata.is_normalized("NFC", v), key


# ------------------------------------------------------------------ VNS

def test_vns_update_line_beats_page_header_date():
    r = extract_article(page("vns_update.html"), VNS_URL, options=OPTS)
    assert set(r) == KEYS
    assert r["title"] == "Mekong countries discuss strategies to stop trafficking"
    assert r["published"] == "2012-02-15T09:20:00"
    assert r["date_source"] == "vns-update"
    assert r["language"] == "en"
    assert r["sitename"] == "Viet Nam News"
    assert r["canonical_url"] == VNS_URL
    assert r["image"] == "https://vietnamnews.vn/Files/Subject/Images/2012/02/15/trafficking.jpg"
    assert r["text"].startswith("HA NOI — Senior officials from six countries in the Greater Mekong Sub-region")
    assert r["text"].endswith("victimised by trafficking each year in GMS countries. — VNS")
    for chrome in ("2020", "Wednesday", "Update:", "Send Us Your Comments", "See also",
                   "Police rescue women sold to China", "Most read", "Copyright"):
        assert chrome not in r["text"]
    assert_all_nfc(r)


# ------------------------------------------------------------------ baochinhphu (English)

def test_baochinhphu_en_chrome_removed_and_url_id_date():
    r = extract_article(page("baochinhphu_en.html"), VGP_EN_URL, options=OPTS)
    assert r["title"] == "Viet Nam's strong commitment to fighting human trafficking in cyberspace"
    assert r["author"] == "Thuy Dung"                       # from the trailing byline line
    assert r["published"] == "2025-07-28T16:05:12"          # 111 + 250728160512 + 345
    assert r["date_source"] == "url-id"
    assert r["language"] == "en"
    assert r["canonical_url"] == VGP_EN_URL
    assert r["text"].startswith("Nearly 250 delegates from agencies and organizations")
    assert r["text"].endswith("looking for places with better work and study opportunities./.")
    for chrome in ("Photo: VGP", "Source:", "Comment (0)", "Related news", "Thuy Dung",
                   "Monday, July 28, 2025", "souvenir photos"):
        assert chrome not in r["text"]


# ------------------------------------------------------------------ Vietnamese pages

def test_vietnamese_nfd_page_is_nfc_with_weekday_date():
    raw = (PAGES / "vi_nfd.html").read_text(encoding="utf-8")
    assert not unicodedata.is_normalized("NFC", raw)        # the fixture really is decomposed
    r = extract_article(raw, VGP_VI_URL, options=OPTS)      # even without decode_html
    assert_all_nfc(r)
    assert r["title"] == VI_TITLE
    assert r["text"].startswith(VI_FIRST)
    assert r["text"].endswith(VI_LAST)
    assert r["author"] == "Minh Anh"
    # "Thứ Hai, 28/07/2025 14:44" under the headline, not the header's bare "Thứ Hai, 28/07/2025";
    # the URL id (102 250728144405 775) gives the same minute with its seconds
    assert r["published"] == "2025-07-28T14:44:05"
    assert r["date_source"] == "text-weekday"
    assert r["language"] == "vi"                             # no lang attribute: diacritic heuristic
    assert r["sitename"] == "Báo Điện tử Chính phủ"
    for chrome in ("Ảnh:", "Bình luận", "Tin liên quan", "Cảnh báo thủ đoạn"):
        assert chrome not in r["text"]


@pytest.mark.parametrize("declared", [None, "windows-1258", "cp1258"])
def test_windows_1258_decoding(declared):
    body = (PAGES / "vi_windows1258.html").read_bytes()
    html = decode_html(body, declared)
    assert unicodedata.is_normalized("NFC", html)
    assert VI_TITLE in html
    r = extract_article(html, "https://old.example.vn/news/123.html", options=OPTS)
    assert r["title"] == VI_TITLE
    assert r["text"].startswith(VI_FIRST)
    assert r["published"] == "2008-03-05T08:15:00"          # "Cập nhật: 05/03/2008 08:15"
    assert r["date_source"] == "text-updated"
    assert_all_nfc(r)


def test_wrong_declared_encoding_prefers_valid_utf8():
    body = (PAGES / "vi_wrong_declared.html").read_bytes()
    assert "Triá»" in body.decode("latin-1")                # what trusting the header would give
    html = decode_html(body, "iso-8859-1")
    assert html == unicodedata.normalize("NFC", body.decode("utf-8"))
    r = extract_article(html, VGP_VI_URL, options=OPTS)
    assert r["title"] == VI_TITLE


def test_decode_html_basics():
    assert decode_html(b"", None) == ""
    assert decode_html(b"<p>plain</p>", "utf-8") == "<p>plain</p>"
    assert decode_html("\ufeff<p>Việt</p>".encode("utf-8"), "windows-1252") == "<p>Việt</p>"
    # NFD UTF-8 bytes → NFC text
    nfd = unicodedata.normalize("NFD", "<p>Hà Nội</p>").encode("utf-8")
    assert decode_html(nfd, "utf-8") == "<p>Hà Nội</p>"
    # declared UTF-8 but the bytes are windows-1252 → no crash, no replacement characters
    assert decode_html("<p>café crème</p>".encode("cp1252"), "utf-8") == "<p>café crème</p>"
    # meta charset is honoured when there is no HTTP header
    latin = '<meta charset="iso-8859-1"><p>São Tomé</p>'.encode("latin-1")
    assert decode_html(latin, None).endswith("<p>São Tomé</p>")
    # unknown declared label falls back gracefully
    assert decode_html("<p>Đà Nẵng</p>".encode(), "x-no-such-charset") == "<p>Đà Nẵng</p>"


# ------------------------------------------------------------------ JSON-LD, header-only dates

def test_jsonld_date_and_metadata():
    r = extract_article(page("jsonld.html"), "https://news.example.org/2024/11/03/police-rescue-12-workers?utm=x",
                        options=OPTS)
    assert r["published"] == "2024-11-03T08:30:00+07:00"    # not the header or "Last updated" date
    assert r["date_source"] == "json-ld"
    assert r["author"] == "Jane Nguyen"
    assert r["language"] == "en"                             # from lang="en-GB"
    assert r["canonical_url"] == "https://news.example.org/2024/11/03/police-rescue-12-workers"
    assert r["tags"] == ["human trafficking", "scam compounds", "Cambodia"]
    assert r["title"] == "Police rescue 12 workers from scam compound"
    assert "Last updated" not in r["text"] and "Tuesday" not in r["text"]


def test_page_header_today_date_is_rejected():
    html = page("header_today_only.html")
    from htmldate import find_date
    assert find_date(html, extensive_search=True, original_date=True) == "2020-02-26"  # the trap
    r = extract_article(html, "https://vietnamnews.vn/society/221400/border-guards-tighten-checks.html",
                        options=OPTS)
    assert r["published"] is None and r["date_source"] is None
    assert "2020" not in r["text"]


def test_future_dates_are_ignored():
    html = page("jsonld.html").replace("2024-11-03T08:30:00+07:00", "2031-01-01T00:00:00+07:00")
    r = extract_article(html, "https://news.example.org/2024/11/03/police-rescue-12-workers", options=OPTS)
    # the JSON-LD date is in the future → the "Last updated" text line is the next witness
    assert r["published"] == "2024-11-05"
    assert r["date_source"] == "text-updated"


def _article(date_html: str, head: str = "") -> str:
    body = " ".join(["Authorities in the province said the victims had been lured abroad with offers of jobs."] * 5)
    return (f"<html><head>{head}<title>Victims rescued</title></head><body><div class='top'>Thứ Sáu, 01/08/2025</div>"
            f"<h1>Victims rescued</h1><div class='meta'>{date_html}</div><article><p>{body}</p>"
            f"<p>{body}</p></article></body></html>")


@pytest.mark.parametrize("date_html,expected,source", [
    ("Cập nhật: 28/07/2025 14:44", "2025-07-28T14:44:00", "text-updated"),
    ("Thứ hai, 28/7/2025, 14:44 (GMT+7)", "2025-07-28T14:44:00", "text-weekday"),
    ("Chủ nhật, 27/07/2025 - 09:05", "2025-07-27T09:05:00", "text-weekday"),
    ("Published: July 28, 2025 2:44 PM", "2025-07-28T14:44:00", "text-published"),
    ("Updated: 28/07/2025 14:44", "2025-07-28T14:44:00", "text-updated"),
    ("Update: July, 28/2025 - 14:44", "2025-07-28T14:44:00", "vns-update"),
    ("Ngày đăng: 14:44 28/07/2025", "2025-07-28T14:44:00", "text-published"),
])
def test_text_date_patterns(date_html, expected, source):
    r = extract_article(_article(date_html), "https://example.vn/a.html", options=OPTS)
    assert (r["published"], r["date_source"]) == (expected, source)
    assert date_html.split(":")[0] not in r["text"]


def test_text_time_takes_seconds_only_from_a_url_id_of_the_same_minute():
    html = _article("Thứ hai, 28/07/2025 14:44")
    same = extract_article(html, "https://baochinhphu.vn/a-102250728144405775.htm", options=OPTS)
    other = extract_article(html, "https://baochinhphu.vn/a-102250728101530123.htm", options=OPTS)
    assert (same["published"], same["date_source"]) == ("2025-07-28T14:44:05", "text-weekday")
    assert (other["published"], other["date_source"]) == ("2025-07-28T14:44:00", "text-weekday")


def test_header_clock_above_headline_loses_to_dateline_below():
    html = _article("Thứ hai, 28/07/2025 14:44").replace("Thứ Sáu, 01/08/2025", "Thứ Sáu, 01/08/2025 09:12")
    r = extract_article(html, "https://example.vn/a.html", options=OPTS)
    assert (r["published"], r["date_source"]) == ("2025-07-28T14:44:00", "text-weekday")


@pytest.mark.parametrize("meta,expected", [
    ('<meta property="article:published_time" content="2025-07-28T14:44:05+07:00">', "2025-07-28T14:44:05+07:00"),
    ('<meta itemprop="datePublished" content="2025-07-28">', "2025-07-28"),
    # a UTC stamp on a .vn site: the publisher's local time (the domain's zone)
    ('<meta name="pubdate" content="2025-07-28T07:44:05Z">', "2025-07-28T14:44:05+07:00"),
])
def test_meta_dates_win_over_text(meta, expected):
    r = extract_article(_article("Cập nhật: 30/07/2025 10:00", head=meta), "https://example.vn/a.html",
                        options=OPTS)
    assert (r["published"], r["date_source"]) == (expected, "meta")


@pytest.mark.parametrize("url,expected", [
    (VGP_VI_URL, ("2025-07-28T14:44:05", "url-id")),
    ("https://en.baochinhphu.vn/some-slug-111250327100445608.htm", ("2025-03-27T10:04:45", "url-id")),
    ("https://tuoitre.vn/some-slug-20250728101530123.htm", ("2025-07-28T10:15:30", "url-id")),
    ("https://example.com/2019/11/18/some-story/", ("2019-11-18", "url-path")),
    ("https://example.com/news/some-slug-102259999999999999.htm", None),   # not a date
    ("https://example.com/news/some-slug-102351231235959000.htm", None),   # 2035: in the future
    ("https://vietnamnews.vn/society/1801167/some-slug.html", None),
])
def test_url_dates(url, expected):
    hit = url_date(url, NOW)
    assert (None if hit is None else (hit.value, hit.source)) == expected


def test_parse_date_string():
    ict = timezone(timedelta(hours=7))
    assert parse_date_string("2025-07-28T14:44:05.123+07:00") == (datetime(2025, 7, 28, 14, 44, 5, tzinfo=ict), True)
    assert parse_date_string("2025-07-27T23:00:00Z")[0].tzinfo == UTC
    assert parse_date_string("2020-12-05T23:15:0Z") == (datetime(2020, 12, 5, 23, 15, tzinfo=UTC), True)
    assert parse_date_string("2025/07/28") == (datetime(2025, 7, 28), False)
    assert parse_date_string("Mon, 28 Jul 2025 14:44:05 +0700") == (datetime(2025, 7, 28, 14, 44, 5, tzinfo=ict), True)
    assert parse_date_string("28/07/2025 14:44") == (datetime(2025, 7, 28, 14, 44), True)
    assert parse_date_string("not a date") is None
    assert parse_date_string("2025-13-45") is None


# ------------------------------------------------------------------ cleanup, language, errors

def test_clean_text_generic_chrome():
    text = "\n".join([
        "Wednesday, February 26 2020",
        "Update: February, 15/2012 - 09:20",
        "Cập nhật: 28/07/2025 14:44",
        "Delegates attend the meeting in Ha Noi - Photo: VNA",
        "Ảnh: VGP/Nhật Bắc",
        "The ministry said 120 victims were identified in the first half of the year, up from 90.",
        "Officials pledged to strengthen cooperation with neighbouring countries on repatriation.",
        "Police also warned about fake job offers on social media. (Photo: VNS)",
        "Lực lượng chức năng giải cứu nạn nhân. Ảnh: CACC",
        "Một nạn nhân được đưa về địa phương (Ảnh minh họa)",
        "Thứ Hai, 28/07/2025",
        "Victims will receive legal aid and vocational training, the ministry added.",
        "Nguyễn Hà",
        "Nguồn: https://baochinhphu.vn/abc-102250728144405775.htm",
        "Bình luận (0)",
    ])
    cleaned, author = clean_text(text)
    assert author == "Nguyễn Hà"
    assert cleaned.split("\n") == [
        "The ministry said 120 victims were identified in the first half of the year, up from 90.",
        "Officials pledged to strengthen cooperation with neighbouring countries on repatriation.",
        "Victims will receive legal aid and vocational training, the ministry added.",
    ]
    # sentences and a sign-off stay
    kept, author = clean_text("First paragraph of the story.\nSecond paragraph of the story.\n"
                              "Third paragraph quoting the Photo: desk.\nLast line. — VNS")
    assert kept.endswith("Last line. — VNS") and author is None


def test_language_fallbacks():
    khmer = "<p>" + "ប្រជាជនកម្ពុជាបានចូលរួមក្នុងកិច្ចប្រជុំស្តីពីការជួញដូរមនុស្ស " * 20 + "</p>"
    html = f"<html><body><h1>ក្រុមប្រឹក្សា</h1>{khmer}</body></html>"
    assert extract_article(html, "https://km.example/", options=ExtractOptions(language_hint="km"))["language"] == "km"
    assert extract_article(html, "https://km.example/")["language"] is None
    # a template declaring lang="en" on a Vietnamese page
    vi = page("vi_nfd.html").replace("<html>", '<html lang="en">')
    assert extract_article(vi, VGP_VI_URL, options=OPTS)["language"] == "vi"


def test_empty_and_short_pages_raise():
    with pytest.raises(ExtractionError) as exc:
        extract_article(page("empty_shell.html"), "https://baochinhphu.vn/", options=OPTS)
    assert exc.value.reason in ("empty",) or exc.value.reason.startswith("too short: ")
    with pytest.raises(ExtractionError) as exc:
        extract_article("", "https://baochinhphu.vn/")
    assert exc.value.reason == "empty"
    with pytest.raises(ExtractionError) as exc:
        extract_article(page("jsonld.html"), "https://news.example.org/", options=ExtractOptions(min_chars=5000))
    assert exc.value.reason.startswith("too short: ")
    # the error survives a process-pool round trip
    err = pickle.loads(pickle.dumps(exc.value))
    assert isinstance(err, ExtractionError) and err.reason == exc.value.reason


def test_pure_and_picklable():
    html = page("vns_update.html")
    assert extract_article(html, VNS_URL, options=OPTS) == extract_article(html, VNS_URL, options=OPTS)
    assert pickle.loads(pickle.dumps(OPTS)) == OPTS


def test_runs_in_a_spawned_process_pool():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    html = page("baochinhphu_en.html")
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = pool.submit(extract_article, html, VGP_EN_URL, options=OPTS).result(timeout=120)
        with pytest.raises(ExtractionError):
            pool.submit(extract_article, "<html><body><p>x</p></body></html>", VGP_EN_URL).result(timeout=120)
    assert remote == extract_article(html, VGP_EN_URL, options=OPTS)


def test_import_is_cheap():
    code = "import sys, pipeline.extract.article; print('trafilatura' in sys.modules, 'htmldate' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


LEAD = ("Provincial police rescued eleven women who had been sold across the border, "
        "officials said on Friday at a briefing.")
BODY = "".join(f"<p>Paragraph {i} of the report tells what the officers found and what happens next to the victims.</p>"
               for i in range(6))


def lead_page(description: str, sapo: str) -> str:
    return (f'<html><head><meta charset="utf-8"><title>Police rescue eleven women</title>'
            f'<meta name="description" content="{description}"></head><body>'
            f'<div class="menu"><a href="/">Home</a></div>'
            f'<h1>Police rescue eleven women</h1><div class="sapo"><strong>{sapo}</strong></div>'
            f'<div class="related"><a href="/x">Other news</a></div>'
            f'<div class="detail-content">{BODY}</div></body></html>')


def test_standfirst_outside_the_body_block_leads_the_text():
    r = extract_article(lead_page(LEAD, "VGP - " + LEAD), "https://example.org/a-111261120090542318.htm", options=OPTS)
    assert r["text"].startswith("VGP - " + LEAD + "\nParagraph 0")
    assert r["text"].count("Provincial police rescued") == 1


def test_description_that_is_no_block_of_the_page_adds_nothing():
    r = extract_article(lead_page(LEAD, "A different summary written for the listing page only."),
                        "https://example.org/a-111261120090542318.htm", options=OPTS)
    assert r["text"].startswith("Paragraph 0") or r["text"].startswith("A different summary")
    assert "Provincial police rescued" not in r["text"]


# ------------------------------------------------------------------ body text: auto mode, cleanup, chunks

STORY = "".join(f"<p>Paragraph {i}: the border guards said the eleven women had been promised factory jobs across "
                f"the border and were rescued at a rented house.</p>" for i in range(6))


@pytest.mark.parametrize("wrapper", ["header class='entry'", "div class='story-bottom'"])
def test_auto_mode_gets_a_second_opinion_when_precision_prunes_the_article(wrapper):
    # trafilatura's precision mode drops <header> blocks and "bottom" classes: run alone it finds
    # (next to) nothing here; the balanced second opinion brings the article back
    tag = wrapper.split()[0]
    html = (f"<html><head><title>Women rescued</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<h1>Women rescued</h1><{wrapper}>{STORY}</{tag}></body></html>")
    r = extract_article(html, "https://example.org/a.html", options=OPTS)
    assert r["text"].startswith("Paragraph 0:") and r["text"].endswith("at a rented house.")
    assert r["text"].count("Paragraph") == 6


def test_article_split_into_sibling_chunks_is_completed():
    def chunk(a: int, b: int) -> str:
        return "".join(f"<p>Chunk paragraph {i}: officials described how recruiters used social media "
                       f"to lure job seekers abroad into scam compounds.</p>" for i in range(a, b))

    html = (f"<html><head><title>Scam compounds</title></head><body><h1>Scam compounds</h1><main>"
            f"<div class='grid'><div class='article-body'>{chunk(0, 4)}</div></div>"
            f"<div class='ad-slot'><a href='/ad'>Advertisement</a></div>"
            f"<div class='grid'><div class='article-body'>{chunk(4, 8)}</div></div>"
            f"<aside><div class='article-body'><a href='/x'>Other story one</a> "
            f"<a href='/y'>Other story two</a></div></aside>"
            f"</main><footer>Copyright</footer></body></html>")
    r = extract_article(html, "https://example.org/b.html", options=OPTS)
    assert [line.split(":")[0] for line in r["text"].split("\n")] == [f"Chunk paragraph {i}" for i in range(8)]
    assert "Other story" not in r["text"] and "Advertisement" not in r["text"]


def test_english_dek_in_the_page_header_is_not_prepended():
    dek = "Border guards say eleven women promised factory jobs were rescued from a rented house on Friday."
    html = (f'<html><head><title>Women rescued</title><meta name="description" content="{dek}"></head><body>'
            f'<header class="article-header"><h1>Women rescued</h1><h2 class="sub-head">{dek}</h2></header>'
            f'<div class="article-body">{STORY}</div></body></html>')
    r = extract_article(html, "https://example.org/c.html", options=OPTS)
    assert r["text"].startswith("Paragraph 0:") and dek not in r["text"]


def test_clean_text_teasers_and_calls_to_action():
    keep = [
        "The ministry said 120 victims were identified in the first half of the year, up from 90.",
        "Recruiters contacted the victims on Facebook and Zalo, promising well-paid jobs in casinos.",
        "Follow-up raids on Facebook-advertised agencies continued in three provinces.",
        "Theo dõi tài khoản Facebook của nghi phạm, công an phát hiện đường dây môi giới.",
        "Subscribers on Telegram were offered jobs in Cambodia, the report said.",
        "Officials pledged to strengthen cooperation with neighbouring countries on repatriation.",
    ]
    text = "\n".join([
        keep[0],
        "Related: Police rescue 11 women sold across the border",
        "READ MORE: Scam compounds in Cambodia hold thousands",
        "Xem thêm: Giải cứu 27 công dân bị lừa sang Campuchia",
        keep[1],
        "Follow us on Facebook and Twitter for the latest news.",
        "Sign up for our daily newsletter.",
        keep[2],
        "Theo dõi chúng tôi trên Zalo và Facebook.",
        keep[3],
        "Đăng ký nhận bản tin qua Zalo.",
        keep[4],
        keep[5],
        "Email Jane Doe at jane.doe@example.org or follow her @janedoe.",
    ])
    cleaned, author = clean_text(text)
    assert cleaned.split("\n") == keep and author is None


def test_clean_text_drops_runs_of_linked_headlines_in_the_second_half():
    body = [f"Paragraph {i} of the report tells what the officers found and what happens next to the victims."
            for i in range(6)]
    links = {"Police rescue eleven women sold across the border", "Scam compound bosses jailed in landmark trial",
             "Hotline", "Ministry report lists new trafficking routes"}
    text = "\n".join([body[0], "Ministry report lists new trafficking routes", *body[1:],
                      "DON'T MISS", "- Police rescue eleven women sold across the border",
                      "- Scam compound bosses jailed in landmark trial"])
    cleaned, _ = clean_text(text, anchors=lambda: links)
    # the run and its heading go; a single linked line in the first half stays
    assert cleaned.split("\n") == [body[0], "Ministry report lists new trafficking routes", *body[1:]]
    assert clean_text(text)[0] == text          # without the page's links nothing is judged linked


def test_mode_options_are_honoured():
    html = (f"<html><head><title>Women rescued</title></head><body><h1>Women rescued</h1>"
            f"<div class='article-body'>{STORY}</div></body></html>")
    for options in (ExtractOptions(now=NOW, favor_precision=True), ExtractOptions(now=NOW, favor_recall=True)):
        assert extract_article(html, "https://example.org/d.html", options=options)["text"].count("Paragraph") == 6


PARAS = [f"Paragraph {i} of the report tells what the officers found and what happens next to the victims."
         for i in range(6)]


def test_clean_text_ends_at_a_copyright_notice():
    text = "\n".join([*PARAS[:4], "© 2008 Example Daily News. All rights reserved.", "Most read",
                      "Council approves the budget for a new bridge over the river"])
    assert clean_text(text)[0].split("\n") == PARAS[:4]
    notice = "Copyright 2008 The Example Press. All rights reserved. This material may not be redistributed."
    assert clean_text("\n".join([*PARAS[:4], notice, "Sign in"]))[0].split("\n") == PARAS[:4]
    # a sentence about copyright is prose, not a notice
    prose = "Copyright law gives the author control over copies of the work, the court said on Friday."
    assert clean_text("\n".join([*PARAS[:4], prose, PARAS[4]]))[0].split("\n") == [*PARAS[:4], prose, PARAS[4]]
    # and a bare credit under a photo is no notice either
    assert clean_text("\n".join([*PARAS[:4], "© AFP", *PARAS[4:]]))[0].split("\n")[-2:] == PARAS[4:]


def test_clean_text_ends_at_a_recommendations_heading_whatever_follows():
    teaser = ("A photo contest winner: " + "one girl can be silenced, but a nation of girls telling their stories "
              "becomes free, and this slideshow gathers the pictures and the words that readers sent in. " * 2)
    assert len(teaser) > 250
    text = "\n".join([*PARAS, "You Might Also Like", teaser, "Previous", "Next"])
    assert clean_text(text)[0].split("\n") == PARAS


def test_clean_text_drops_single_cell_rows_of_layout_tables():
    data = ["| Group | For | Against |", "|---|---|---|", "| Men | 33 | 42 |", "| Women | 47 | 36 |"]
    text = "\n".join([PARAS[0], "| Wednesday, 16 January 2008 |  |", PARAS[1], "| Cities that top the list: |  |",
                      *data, "| The council will vote on the plan again next month, the mayor said. |",
                      PARAS[2], "| Most Viewed Articles |", "| Beer saves man's life [Regional] |", PARAS[3]])
    cleaned = clean_text(text)[0].split("\n")
    assert cleaned == [PARAS[0], PARAS[1], "| Cities that top the list: |  |", *data,
                       "| The council will vote on the plan again next month, the mayor said. |", PARAS[2], PARAS[3]]


def test_clean_text_drops_a_trailing_list_of_partly_linked_headlines():
    links = {"Inside the Border Camps", "Rescued Workers Speak", "Hotline"}
    text = "\n".join([*PARAS, "More From The Desk", "- Life and Work Inside the Border Camps",
                      "- Why Rescued Workers Speak Out Now"])
    assert clean_text(text, anchors=lambda: links)[0].split("\n") == PARAS
    # an item with a short link in it is not a headline
    items = ["- Call the Hotline any time of day or night", "- Keep copies of your passport and contract"]
    assert clean_text("\n".join([*PARAS, *items]), anchors=lambda: links)[0].split("\n") == [*PARAS, *items]


def test_clean_text_drops_a_trailing_list_of_headlines_with_their_teasers():
    links = {"Record year for house sales in the capital", "Brewers rewrite recipes as hops run short",
             "Police charge driver after hit-and-run"}
    teasers = ["- Sales and prices rose in every large city last year, the association said on Tuesday.",
               "- A shortage of hops is forcing small breweries to change their best-known beers.",
               "- A 24-year-old man has been charged over a crash that killed an elderly pedestrian."]
    items = [line for pair in zip([f"- {t}" for t in sorted(links)], teasers, strict=True) for line in pair]
    text = "\n".join([*PARAS, "Blog Watch", *items])
    assert clean_text(text, anchors=lambda: links)[0].split("\n") == PARAS
    # ... also when the list is longer than the article above it
    short = "\n".join([*PARAS[:2], "Blog Watch", *items, *items[:4]])
    assert clean_text(short, anchors=lambda: links)[0].split("\n") == PARAS[:2]
    # a list of the article's own whose items only mention a linked page stays
    own = ["- Record year for house sales in the capital", "- The ministry will publish its figures in June.",
           "- Buyers may ask the tax office for the new forms.", "- Agents must register by the end of the year."]
    assert clean_text("\n".join([*PARAS, *own]), anchors=lambda: links)[0].split("\n") == [*PARAS, *own]


def test_clean_text_drops_datelines_at_the_head():
    for head in ["Associated Press - January 16, 2008 12:55 PM ET", "Jan 14 2008 by Andy Howell, Western Mail",
                 "10:02 AM CST on Friday, December 28, 2007", "By David Richards | Monday | 07/01/2008"]:
        assert clean_text("\n".join([head, *PARAS]))[0].split("\n") == PARAS, head
    kept = ["Floods on 12/10/2025 kill five in the delta", "The court met on March 3, 2020."]
    assert clean_text("\n".join([*kept, *PARAS]))[0].split("\n") == [*kept, *PARAS]
    # past the head it is the article's own (a table of dates, an embedded post's signature)
    tail = ["Ike Diogu (Jr.), Feb. 7, 2005", "— Interior Ministry (@ministry) November 15, 2019"]
    assert clean_text("\n".join([*PARAS, *tail]))[0].split("\n") == [*PARAS, *tail]


def test_clean_text_drops_slideshow_captions_and_video_player_text():
    slides = [f"- {n}/50 {caption}" for n, caption in [
        (1, "Port reopens: the container terminal took its first ship since the storm on Monday"),
        (2, "Rice harvest: farmers in the delta expect a record crop after a mild rainy season"),
        (4, "Bridge repairs: the old span over the river reopens to cars and bicycles next week")]]
    player = ["- Chapters", "- descriptions off, selected", "- subtitles off, selected", "This is a modal window.",
              "Beginning of dialog window. Escape will cancel and close the window.", "End of dialog window."]
    text = "\n".join([*PARAS[:3], *player, *PARAS[3:], *slides])
    assert clean_text(text)[0].split("\n") == PARAS
    # a recipe's fractions are no slide count
    recipe = ["- 1/2 tsp ground cloves", "- 1/4 cup brown sugar", "- 3/4 cup plain flour", "- 1/2 cup milk"]
    assert clean_text("\n".join([*PARAS, *recipe]))[0].split("\n") == [*PARAS, *recipe]


def _body_page(middle: str) -> str:
    return ("<html><head><title>Women rescued</title></head><body><h1>Women rescued</h1><div class='article-body'>"
            + "".join(f"<p>{p}</p>" for p in PARAS[:2]) + middle + "".join(f"<p>{p}</p>" for p in PARAS[2:])
            + "</div></body></html>")


def test_a_linked_subheading_between_paragraphs_is_kept_in_place():
    html = _body_page("<h2><a href='/timeline'>How the raid unfolded</a></h2>")
    lines = extract_article(html, "https://example.org/e.html", options=OPTS)["text"].split("\n")
    assert lines == [*PARAS[:2], "How the raid unfolded", *PARAS[2:]]


def test_subheadings_past_an_ad_slot_and_an_image_credit_are_kept_in_place():
    # a CMS that puts an ad slot and a figure with its credit between a subheading and its paragraph
    middle = ("<div class='js_ad-dynamic ad-mobile'>Advertisement</div><h2>Part One</h2><h3>The raid</h3>"
              "<figure><img src='/a.jpg'></figure><div class='ad-slot movable-ad'>Advertisement</div>"
              "<p>(Photo: VNA)</p>")
    lines = extract_article(_body_page(middle), "https://example.org/h.html", options=OPTS)["text"].split("\n")
    assert lines == [*PARAS[:2], "Part One", "The raid", *PARAS[2:]]
    # a block with text that is no ad slot still parts a heading from the next paragraph
    from lxml import html as lxml_html

    from pipeline.extract.body import _neighbour_paragraph
    tree = lxml_html.fromstring(f"<div><h3>Aside</h3><div class='box'>Poll: who is right?</div><p>{PARAS[0]}</p>"
                                f"<h3>Next</h3><div class='ad-slot'>Advertisement</div><p>(Photo: VNA)</p>"
                                f"<p>{PARAS[1]}</p></div>")
    aside, following = tree.findall(".//h3")
    assert _neighbour_paragraph(aside, True) is None
    assert _neighbour_paragraph(following, True).text == PARAS[1]


def test_clean_text_drops_lines_made_of_links():
    links = {"Print version", "Email to a friend", "Related articles", "Home", "World", "Quote",
             "Report this post", "the national hotline", "Police rescue eleven women"}
    bars = ["Print version | Email to a friend | Related articles", "| Home | | World |", "Quote | Report this post"]
    prose = ["Call the national hotline, police said, or write to Police rescue eleven women at home.",
             "Police rescue eleven women"]  # one link alone: an in-body pointer, left to the other rules
    text = "\n".join([bars[0], *PARAS[:3], bars[1], *prose, *PARAS[3:], bars[2]])
    assert clean_text(text, anchors=lambda: links)[0].split("\n") == [*PARAS[:3], *prose, *PARAS[3:]]
    # a page whose only text is such a line keeps it rather than coming out empty
    assert clean_text(bars[0], anchors=lambda: links)[0] == bars[0]


def test_byline_search_matches_trafilaturas():
    from trafilatura.metadata import extract_author
    from trafilatura.utils import load_html

    from pipeline.extract.metadata import _author

    pages = [
        "<p class='byline'>By Jane Roe</p>",
        "<div class='comments'><span class='author'>A Commenter</span></div><span class='author-name'>Jane Roe</span>",
        "<div class='post-meta'><a rel='author' href='/j'>Jane <time>Mon</time>Roe</a></div>",
        "<aside class='sidebar'><p class='byline'>Side Writer</p></aside><h4 id='author-box'>John Doe</h4>",
        "<span itemprop='author'>Nguyễn Văn An</span><p class='writer'>Someone Else</p>",
        "<div data-component='Byline'>Le Thi Hoa<figure>Photo: VNA</figure></div>",
        "<span class='author'>X</span><span class='author'>Tran Minh Duc</span>",
        "<p>No byline here at all.</p>",
    ]
    for body in pages:
        html = f"<html><head><title>T</title></head><body><article>{body}<p>{PARAS[0]}</p></article></body></html>"
        assert _author(load_html(html)) == extract_author(load_html(html)), body


def test_a_lead_sentence_in_bold_straight_inside_the_block_leads_the_text():
    lead = ("Police in the border province freed eleven women held in a karaoke bar, the ministry said on "
            "Friday, after a tip from the national hotline.")
    html = ("<html><head><title>Women rescued</title></head><body><h1>Women rescued</h1><div id='articlecontent'>"
            f"<strong>{lead}<br></strong><br>" + "".join(f"<p>{p}</p>" for p in PARAS) + "</div></body></html>")
    lines = extract_article(html, "https://example.org/j.html", options=OPTS)["text"].split("\n")
    assert lines[:2] == [lead, PARAS[0]]
    # bold words inside a sentence are no lead
    inline = _body_page("<p>The court said <strong>the recruiters had sold jobs that did not exist in three "
                        "countries, and that the victims were never paid.</strong> The men appealed.</p>")
    text = extract_article(inline, "https://example.org/k.html", options=OPTS)["text"]
    assert text.count("the recruiters had sold jobs") == 1


def test_a_span_inside_a_paragraph_keeps_its_words():
    sentence = ("The rescue followed a tip from the national hotline on Friday, officials said at a briefing "
                "in the provincial capital.")
    html = _body_page("<p>The rescue followed a tip from <span class='link'><a href='/hotline'>the national "
                      "hotline</a></span> on Friday, officials said at a briefing in the provincial capital.</p>")
    assert extract_article(html, "https://example.org/f.html", options=OPTS)["text"].split("\n")[2] == sentence


def test_a_page_whose_title_is_never_closed_keeps_its_text():
    from pipeline.extract.nesting import closed_title

    broken = "<title>Women rescued' + ad_query + '\"><\\/script>')"
    html = _body_page("").replace("<title>Women rescued</title>", broken)
    assert closed_title(_body_page("")) is None
    assert extract_article(html, "https://example.org/g.html", options=OPTS)["text"].split("\n") == PARAS


def test_drop_down_menus_are_no_text():
    from lxml import html as lxml_html

    from pipeline.extract.page import _without_layout_chrome

    tree = lxml_html.fromstring("<html><body><p>" + PARAS[0] + "</p><form><select name='stock'>"
                                + "".join(f"<option>Company {i}</option>" for i in range(50))
                                + "</select> tail</form></body></html>")
    text = _without_layout_chrome(tree).text_content()
    assert "Company" not in text and PARAS[0] in text and "tail" in text


# ------------------------------------------------------------------ the benchmark scripts

def _bench_module(name: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_extraction_bench_metric_is_the_benchmarks():
    b = _bench_module("extraction_quality")
    same = b.string_shingle_matching("one two three four five", "one two three four five")
    assert same == (1.0, 0.0, 0.0)
    # tokens are case-sensitive, as in the benchmark's evaluate.py
    assert b.string_shingle_matching("Alpha beta gamma delta", "alpha beta gamma delta")[0] == 0.0
    # fewer than 4 tokens: one shorter shingle
    assert b.string_shingle_matching("two words", "two words") == (1.0, 0.0, 0.0)
    # an empty prediction counts for recall only; F1 is the harmonic mean of the two averages
    rows = [b.string_shingle_matching("a b c d e", ""), same]
    m = b.metrics(rows)
    assert (m["precision"], m["recall"]) == (1.0, 0.5) and abs(m["f1"] - 2 / 3) < 1e-12
    # per page TP/FP/FN over shingle multisets, normalised
    tp, fp, fn = b.string_shingle_matching("a b c d e f", "a b c d x")
    assert (tp, fp, fn) == (1 / 4, 1 / 4, 2 / 4)     # abcd matches; bcdx extra; bcde, cdef missed


def test_extraction_bench_without_data_says_so(tmp_path, monkeypatch, capsys):
    b = _bench_module("extraction_quality")
    monkeypatch.setattr(b, "DATA", tmp_path / "missing")
    monkeypatch.setattr(sys, "argv", ["extraction_quality.py"])
    assert b.main() == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "missing" in out[0]
    assert out[-1].startswith("BENCH-JSON ") and "skipped" in __import__("json").loads(out[-1][11:])


def test_dates_bench_on_the_sample_sites(monkeypatch, capsys):
    import json
    b = _bench_module("dates_quality")
    monkeypatch.setattr(sys, "argv", ["dates_quality.py"])
    assert b.main() == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1][len("BENCH-JSON "):])
    assert report["name"] == "dates_quality" and report["figures"]["errors"] == 0
    assert all(target["met"] for target in report["targets"])


@pytest.mark.parametrize("depth", [300, 5000, 200_000])
def test_a_page_nested_deeper_than_the_parser_goes_keeps_its_text(depth):
    from pipeline.extract.nesting import nesting_depth

    paragraph = ("<p>Police in the northern province rescued twelve women who had been sold across the border, "
                 "officials said on Monday, adding that four suspects had been arrested.</p>")
    html = ("<html><head><title>Police rescue women sold across the border</title></head><body>"
            + "<div class='x'>" * depth + "<span>" + "<h1>Police rescue women sold across the border</h1>"
            + paragraph * 4 + "</span>" + "</div>" * depth + "</body></html>")
    assert nesting_depth(html) == depth + 1
    result = extract_article(html, "https://news.test/a.html")
    assert result["text"].count("rescued twelve women") == 4


def test_flattening_is_only_a_second_reading():
    from pipeline.extract.nesting import flattened, too_deep

    shallow = "<html><body>" + "<div>" * 20 + "<p>x</p>" + "</div>" * 20 + "</body></html>"
    assert not too_deep(shallow)
    with pytest.raises(ExtractionError):  # short because it is short, not because it is deep
        extract_article(shallow, "https://news.test/a.html")
    assert flattened('<DIV class="a"><p>one</p></div><span id=b>two</span>') == " <p>one</p>  two "
