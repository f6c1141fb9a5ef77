"""The map of flagged articles by place (datasette-cluster-map) and the weekly charts
(datasette-vega), reached from `tipwatch serve`'s front page, over HTTP and in headless Chromium
that resolves nothing but loopback. The tile server is set to a closed loopback port: the page
loads no outside asset, and the pins and clusters need no tiles."""
import re

import pytest
from test_serve import CHROMIUM, chromium, get, get_json, running_server

from pipeline import store

from conftest import tipwatch

TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # port 9 (discard): nothing answers
LOOPBACK_ONLY = '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("map")
    tipwatch("demo", "--db", tmp / "demo.db", "--digests-dir", tmp / "digests")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIPWATCH_MAP_TILES", TILES)
        with running_server(tmp / "demo.db", tmp) as base:
            yield {"base": base, "db": store.open_db(tmp / "demo.db"), "tmp": tmp}


def front_links(base: str) -> dict[str, str]:
    status, html = get(base + "/")
    assert status == 200
    return {title: href.replace("&amp;", "&") for href, title in re.findall(r'<a href="([^"]+)">([^<]+)</a>', html)}


def test_the_map_and_charts_are_linked_from_the_front_page_and_answer(site):
    links = front_links(site["base"])
    map_path = links["Map of flagged articles by place"].split("#")[0]
    pins = get_json(site["base"] + map_path + ".json?_shape=array&days=36500")
    rescue = [p for p in pins if p["title"].startswith("Giải cứu 27")]
    assert {"Tây Ninh", "Svay Rieng"} <= {p["place"] for p in rescue}
    assert all(isinstance(p["latitude"], float) and p["kind"] != "country" for p in pins)
    flagged_with_places = site["db"].execute(
        "SELECT count(DISTINCT p.article_id) FROM article_places p JOIN classifications c "
        "ON c.article_id = p.article_id WHERE c.flagged = 1 AND p.kind != 'country'").fetchone()[0]
    assert len({p["article_id"] for p in pins}) == flagged_with_places
    chart = links["Flagged articles per week, by country"]
    assert "#g.mark=bar&g.x_column=week" in chart and "g.color_column=country" in chart
    weeks = get_json(site["base"] + chart.split("#")[0] + ".json?_shape=array&days=36500")
    assert weeks and {"Viet Nam", "Cambodia"} <= {w["country"] for w in weeks}
    subtopics = get_json(site["base"] + links["Flagged articles per week, by subtopic"].split("#")[0]
                         + ".json?_shape=array&days=36500")
    assert sum(w["articles"] for w in subtopics) >= store.flagged_count(site["db"])
    status, page = get(site["base"] + links["Map of flagged articles by place"])
    assert TILES in page and "openstreetmap" not in page  # the configured tiles, nothing outside


def render(site, href: str, tmp_path) -> str:
    return chromium(site["base"] + href, tmp_path / "profile", LOOPBACK_ONLY, "--virtual-time-budget=8000",
                    "--dump-dom").stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/test-bootstrap.sh)")
def test_chromium_draws_the_map_pins_from_the_front_page_link(site, tmp_path):
    dom = render(site, front_links(site["base"])["Map of flagged articles by place"], tmp_path)
    assert "leaflet-container" in dom
    assert len(re.findall(r'class="leaflet-marker-icon', dom)) >= 2  # pins or clusters were drawn


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/test-bootstrap.sh)")
@pytest.mark.parametrize("title", ["Flagged articles per week, by country", "Flagged articles per week, by subtopic"])
def test_chromium_draws_the_weekly_chart_from_the_front_page_link(site, tmp_path, title):
    href = front_links(site["base"])[title].replace("#", "?days=36500#", 1)
    dom = render(site, href, tmp_path)
    assert "vega-embed" in dom and re.search(r'<canvas[^>]*class="marks"', dom), dom[-1500:]
