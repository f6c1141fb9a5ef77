"""datasette-vega's charting form only on the weekly chart queries.

datasette-vega (PyPI) puts its form above the table of every page that has one; on the Articles
page that pushed the first row below a laptop's screen. Its hooks take no page, so this hides the
form (the class-less div it inserts before the table) everywhere but the pages named here.
"""
from datasette import hookimpl

CHART_QUERIES = ("flagged_per_week_by_country", "flagged_per_week_by_subtopic")
HIDE = ("document.head.insertAdjacentHTML('beforeend', "
        "'<style>.table-wrapper > div:not([class]) { display: none; }</style>');")


@hookimpl
def extra_body_script(request):
    path = request.path if request is not None else ""
    if path.rstrip("/").rsplit("/", 1)[-1] in CHART_QUERIES:
        return ""
    return HIDE
