"""Fetched pages kept as WARC (ISO 28500) files, read and written with warcio.

One file per crawl run and source, `<root>/<YYYY-MM>/<run label>-<source>.warc.gz`, each record
gzipped on its own so that a record is read by seeking to its offset. A page is a `response`
record (final URL, status line, headers, body) with tipwatch's own fields in WARC headers:
the source and the requested URL. Any WARC tool reads the files.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.records import FetchedPage, PageRef

SOURCE_HEADER = "WARC-Tipwatch-Source"
REQUESTED_HEADER = "WARC-Tipwatch-Requested-URI"
ALIASES_HEADER = "WARC-Tipwatch-Aliases"
# the body is stored decoded, so these no longer describe it
_DROPPED_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ArchiveError(RuntimeError):
    """A record that cannot be read back (a missing file, a bad offset)."""


def _warc_date(fetched_at: str) -> str:
    # WARC-Date is UTC with a Z; fetched_at is ISO 8601 with an offset of +00:00
    return fetched_at.replace("+00:00", "Z") if fetched_at.endswith("+00:00") else fetched_at


class ArchiveWriter:
    """Appends pages to one WARC file; opened on the first page, so a run that fetched nothing
    from a source leaves no file."""

    def __init__(self, root: Path, relative: str):
        self.root, self.relative = root, relative
        self._stream: io.BufferedWriter | None = None
        self._writer: WARCWriter | None = None

    @property
    def path(self) -> Path:
        return self.root / self.relative

    def write(self, page: FetchedPage) -> PageRef:
        if self._stream is None or self._writer is None:  # both are opened (and closed) together
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(self.path, "ab")
            self._writer = WARCWriter(self._stream, gzip=True)
        offset = self._stream.tell()
        headers = [(k, v) for k, v in page.headers if k.lower() not in _DROPPED_HEADERS]
        headers.append(("Content-Length", str(len(page.body))))
        http_headers = StatusAndHeaders(f"{page.status} {_reason(page.status)}", headers, protocol="HTTP/1.1")
        warc_headers = {SOURCE_HEADER: page.source, REQUESTED_HEADER: page.requested_url,
                        "WARC-Date": _warc_date(page.fetched_at)}
        if page.aliases:
            warc_headers[ALIASES_HEADER] = " ".join(page.aliases)
        record = self._writer.create_warc_record(page.url, "response", payload=io.BytesIO(page.body),
                                                 http_headers=http_headers, warc_headers_dict=warc_headers)
        self._writer.write_record(record)
        self._stream.flush()  # a reader (reprocess, another process) sees every record written
        return PageRef(self.relative, offset)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = self._writer = None


def _reason(status: int) -> str:
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class PageArchive:
    """The folder of WARC files; hands out one writer per (run, source)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._writers: dict[tuple[str, str], ArchiveWriter] = {}

    def file_for(self, run_label: str, source: str, month: str) -> str:
        return f"{month}/{_UNSAFE.sub('_', run_label)}-{_UNSAFE.sub('_', source)}.warc.gz"

    def write(self, page: FetchedPage, run_label: str) -> PageRef:
        key = (run_label, page.source)
        if key not in self._writers:
            self._writers[key] = ArchiveWriter(self.root, self.file_for(run_label, page.source, page.fetched_at[:7]))
        return self._writers[key].write(page)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def read(self, ref: PageRef) -> FetchedPage:
        """The page kept at *ref*."""
        path = self.root / ref.file
        try:
            with open(path, "rb") as stream:
                stream.seek(ref.offset)
                for record in ArchiveIterator(stream):
                    return _page_of(record)
        except (OSError, ValueError, ArchiveLoadFailed) as exc:  # a bad offset lands inside another record
            raise ArchiveError(f"{path} @ {ref.offset}: {str(exc)[:200]}") from exc
        raise ArchiveError(f"{path} @ {ref.offset}: no record there")

    def iter_file(self, relative: str) -> Iterator[tuple[PageRef, FetchedPage]]:
        """Every page of one WARC file, with its reference."""
        with open(self.root / relative, "rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                if record.rec_type == "response":
                    yield PageRef(relative, records.get_record_offset()), _page_of(record)


def _page_of(record) -> FetchedPage:
    if record.rec_type != "response":
        raise ValueError(f"a {record.rec_type} record, not a response")
    if record.http_headers is None or not record.rec_headers.get_header("WARC-Target-URI"):
        # warcio reads on from a bad offset where it can: what it finds there is no page of ours
        raise ValueError("a response record without its HTTP headers or target URI")
    warc = record.rec_headers
    http = record.http_headers
    body = record.content_stream().read()
    aliases = tuple((warc.get_header(ALIASES_HEADER) or "").split())
    fetched_at = (warc.get_header("WARC-Date") or "").replace("Z", "+00:00")
    return FetchedPage(source=warc.get_header(SOURCE_HEADER) or "", url=warc.get_header("WARC-Target-URI"),
                       requested_url=warc.get_header(REQUESTED_HEADER) or warc.get_header("WARC-Target-URI"),
                       status=int(http.get_statuscode() or 0), headers=tuple(http.headers), body=body,
                       fetched_at=fetched_at, aliases=aliases)
