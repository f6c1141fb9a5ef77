"""Datasette plugin loaded by `tipwatch serve`: facets that know when not to try.

A facet groups every row of the list it is shown on. On a long enough list it cannot finish
within `facet_time_limit_ms`, and trying costs that whole limit on every view of the page: on a
million articles, the facets of the unfiltered Articles page (a GROUP BY over a million rows) and
the subtopic and country facets of every flagged article (json_each over 50,000 rows) never
finish, and cost the page 150 ms for nothing (bench/storage_scale.py). Past a row count measured
for each kind, the facet is not run and the page lists it with those that timed out; a narrowed
list (a source, a month, a search) gets it. These classes replace Datasette's own (serve.py blocks
the `datasette.facets` plugin), so a facet asked for in a link (?_facet=…) is bounded too.
"""
from __future__ import annotations

from datasette import hookimpl
from datasette.facets import ArrayFacet, ColumnFacet, DateFacet

# rows past which a facet cannot finish in its time limit (30 ms): a column facet reads a covering
# index (~50,000 rows in 9 ms), an array facet parses each row's JSON (~50,000 rows in 70 ms)
COLUMN_FACET_ROWS = 200_000
ARRAY_FACET_ROWS = 15_000


class _Bounded:
    max_rows: int

    async def facet_results(self):
        if self.row_count is None or self.row_count > self.max_rows:  # None: the count itself gave up
            names = [c["config"].get("column") or c["config"].get("simple") for c in self.get_configs()]
            return [], [name for name in names if name]
        return await super().facet_results()


class BoundedColumnFacet(_Bounded, ColumnFacet):
    max_rows = COLUMN_FACET_ROWS


class BoundedArrayFacet(_Bounded, ArrayFacet):
    max_rows = ARRAY_FACET_ROWS


@hookimpl
def register_facet_classes():
    return [BoundedColumnFacet, DateFacet, BoundedArrayFacet]
