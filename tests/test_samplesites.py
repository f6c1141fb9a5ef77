"""The sample-site server itself: URL → file mapping, routes, placeholders, caching."""
import urllib.error
import urllib.request

import pytest

from tipwatch.samplesites import SampleSites, SiteError, manifest, template_site_names, write_sources


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def get(url, **headers):
    try:
        with OPENER.open(urllib.request.Request(url, headers=headers), timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def root(tmp_path):
    site = tmp_path / "demo"
    (site / "section").mkdir(parents=True)
    (site / "expected").mkdir()
    (site / "section" / "index.html").write_text('<a href="{{BASE}}/a.html">a</a>')
    (site / "section" / "index@p=2.html").write_text("page two")
    (site / "a.html").write_text("article a")
    (site / "old.htm").write_bytes("Tiếng Việt".encode("cp1258", errors="ignore"))
    (site / "feed.rss").write_text("<rss>{{BASE}}</rss>")
    (site / "expected" / "a.json").write_text("{}")
    (site / "articles.json").write_text('[{"site": "demo", "path": "/a.html"}]')
    (site / "routes.toml").write_text('["/broken.html"]\nstatus = 500\n["/moved.html"]\nredirect = "/a.html"\n'
                                      '["/old.htm"]\ncontent_type = "text/html; charset=windows-1258"\n')
    (tmp_path / "sources.toml").write_text('[[source]]\nname = "demo"\nfeeds = ["{{BASE:demo}}/feed.rss"]\n')
    return tmp_path


def test_paths_queries_and_placeholders(root):
    with SampleSites(root) as sites:
        base = sites.base_url("demo")
        assert get(base + "/section")[2] == get(base + "/section/")[2]
        status, headers, body = get(base + "/section/")
        assert (status, body) == (200, f'<a href="{base}/a.html">a</a>'.encode())
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert get(base + "/section/?p=2")[2] == b"page two"
        assert get(base + "/a.html?utm_source=rss")[2] == b"article a"
        assert get(base + "/old.htm")[1]["Content-Type"] == "text/html; charset=windows-1258"
        for hidden in ("/expected/a.json", "/articles.json", "/routes.toml", "/missing.html", "/../sources.toml"):
            assert get(base + hidden)[0] == 404, hidden
        assert sites.request_log["/a.html"] == 1 and sites.requests_by_site["demo"]["/section/"] == 3


def test_routes_and_conditional_feeds(root):
    with SampleSites(root) as sites:
        base = sites.base_url("demo")
        assert get(base + "/broken.html")[0] == 500
        status, headers, _ = get(base + "/moved.html")
        assert (status, headers["Location"]) == (301, base + "/a.html")
        status, headers, body = get(base + "/feed.rss")
        assert body == f"<rss>{base}</rss>".encode() and headers["Content-Type"].startswith("application/rss+xml")
        assert get(base + "/feed.rss", **{"If-None-Match": headers["ETag"]})[0] == 304
        assert get(base + "/feed.rss", **{"If-None-Match": '"other"'})[0] == 200


def test_write_sources_fills_every_placeholder(root, tmp_path):
    assert template_site_names(root / "sources.toml") == ["demo"]
    with SampleSites(root) as sites:
        text = write_sources(sites, tmp_path / "out.toml").read_text()
        assert text == f'[[source]]\nname = "demo"\nfeeds = ["{sites.base_url("demo")}/feed.rss"]\n'
    assert manifest(root) == [{"site": "demo", "path": "/a.html"}]


def test_site_errors_are_named(root):
    with pytest.raises(SiteError, match=r"no sample site directory for \['nowhere'\]"):
        SampleSites(root, names=["nowhere"])
    (root / "demo" / "routes.toml").write_text('["/x.html"]\nstatuss = 500\n')
    with pytest.raises(SiteError, match="route '/x.html': must start with / and use only"):
        SampleSites(root)


def test_served_dates_move_and_dated_paths_map_back_to_their_files():
    """SampleSites(shift_days=N) (the demo's): pages and feeds carry dates N days later, a dated
    article id moved by N days serves the file of the original id, the original id is gone, and
    routes (a 500 here) follow their paths moved too."""
    rescue = ("/giai-cuu-27-cong-dan-bi-lua-sang-campuchia-lam-viec-cho-cac-co-so-lua-dao-truc-tuyen-"
              "10226112{}101208457.htm")
    with SampleSites(names=["bcp"], shift_days=7) as sites:
        base = sites.base_url("bcp")
        status, _, body = get(base + rescue.format("8"))  # 2026-11-21 → 2026-11-28
        assert status == 200 and rescue.format("8").encode() in body  # its canonical link, moved too
        assert b"2026-11-28" in body and b"2026-11-21" not in body
        assert get(base + rescue.format("1"))[0] == 404
        status, _, feed = get(base + "/rss/home.rss")
        assert status == 200 and rescue.format("8").encode() in feed and b"28 Nov 2026" in feed
        assert sites.request_log[rescue.format("1")] == 1  # logged under its file's path
        assert get(base + "/hop-bao-chinh-phu-thuong-ky-102261127150000333.htm")[0] == 500
    with SampleSites(names=["bcp"]) as sites:  # the tests' default: as written
        assert get(sites.base_url("bcp") + rescue.format("1"))[0] == 200
