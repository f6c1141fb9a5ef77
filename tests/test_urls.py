from pipeline.urls import normalize, same_site, url_key


def test_tracking_parameters_and_fragments_go():
    assert normalize("https://vietnamnews.vn/society/1/a.html?utm_source=fb&utm_medium=social#top") == \
        "https://vietnamnews.vn/society/1/a.html"
    assert normalize("HTTP://VietnamNews.vn:80/a.html?fbclid=abc") == "http://vietnamnews.vn/a.html"


def test_meaningful_query_stays():
    assert normalize("https://example.org/article?id=42&page=2") == "https://example.org/article?id=42&page=2"


def test_twins_share_a_key():
    keys = {url_key(u) for u in ("http://vietnamnews.vn/society/1/a.html",
                                  "https://www.vietnamnews.vn/society/1/a.html/",
                                  "https://vietnamnews.vn/society/1/a.html?utm_campaign=x")}
    assert keys == {"vietnamnews.vn/society/1/a.html"}
    assert url_key("https://vietnamnews.vn/society/2/a.html") != url_key("https://vietnamnews.vn/society/1/a.html")


def test_non_web_identifiers_are_their_own_key():
    assert url_key("seed:corpus/000.txt") == "seed:corpus/000.txt"


def test_same_site():
    assert same_site("https://www.vietnamnews.vn/a", "http://vietnamnews.vn/b")
    assert not same_site("https://baochinhphu.vn/a", "https://en.baochinhphu.vn/a")
