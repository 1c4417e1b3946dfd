"""Render a long document in bounded pieces, each in a child process, and join them.

WeasyPrint lays a whole document out in memory: a class's year in one document takes
memory in proportion to the year (DESIGN §5 forbids that on a Raspberry Pi). Here
each piece (a subject's month of grid pages, a few dozen topic rows) is rendered as
its own PDF/A-3b by a child process that is replaced after a few pieces, so whatever
WeasyPrint keeps is given back to the system. The pieces are then joined by pypdf in
the child as well, keeping the first piece's catalog: its one XMP metadata stream
(pdfaid part 3, conformance B), its sRGB OutputIntent and its attached data files
(EmbeddedFiles and the AF array). Every piece embeds the fonts it uses, so every page
of the joined file keeps its own embedded fonts.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType

from ..pdf import DataFile

PIECES_PER_CHILD = 16  # then a fresh child: whatever WeasyPrint kept is given back
# Stands for the piece's first sheet number in its HTML until the piece before it is
# rendered: the parent prepares the next piece while the child renders this one.
FIRST_PAGE_MARK = "EZH-FIRST-PAGE"


def render_piece(
    html: str, target: str, attachments: Sequence[DataFile] = (), first_page: int | None = None
) -> int:
    """Render one piece to `target` (PDF/A-3b); its page count. Runs in the child."""
    from ..pdf import write_pdfa  # WeasyPrint is imported by the child only

    if first_page is not None:
        html = html.replace(FIRST_PAGE_MARK, str(first_page))
    return write_pdfa(html, Path(target), attachments=attachments)


def warm_up() -> None:
    """Load WeasyPrint in a fresh child while the parent reads the database."""
    import weasyprint  # noqa: F401


def join_pieces(pieces: Sequence[str], target: str) -> int:
    """Join piece files into `target` keeping the first one's catalog; the page count.

    Written to a temporary name and renamed, so a failed join never leaves a file
    that looks finished.
    """
    from pypdf import PdfReader, PdfWriter

    first = PdfReader(pieces[0])
    writer = PdfWriter(clone_from=first)
    for piece in pieces[1:]:
        for page in PdfReader(piece).pages:
            writer.add_page(page)
    # PDF/A-3 is PDF 1.7 (pypdf would write its own 1.3 header), and the Info
    # dictionary must agree with the XMP metadata: WeasyPrint's Producer, not pypdf's.
    writer.pdf_header = first.pdf_header
    producer = (first.metadata or {}).get("/Producer")
    if producer:
        writer.add_metadata({"/Producer": producer})
    partial = f"{target}.part"
    with open(partial, "wb") as fh:
        writer.write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, target)
    return len(writer.pages)


class _InProcess(Executor):
    """Runs the calls at once in this process (tests of the layout, tiny documents)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller by result()
            future.set_exception(exc)
        return future


class PieceRenderer:
    """Renders pieces one after another in a child process; use as a context manager.

    `in_process=True` renders in the calling process (no child), for small documents
    and tests; the pieces and the join are the same.
    """

    def __init__(self, *, in_process: bool = False, pieces_per_child: int = PIECES_PER_CHILD):
        self.in_process = in_process
        self.pieces_per_child = pieces_per_child
        self._executor: Executor | None = None
        self.pieces = 0

    def __enter__(self) -> PieceRenderer:
        if self.in_process:
            self._executor = _InProcess()
        else:
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=self.pieces_per_child,
            )
            self._executor.submit(warm_up)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def submit(
        self,
        html: str,
        target: Path,
        attachments: Sequence[DataFile] = (),
        first_page: int | None = None,
    ) -> Future:
        """Start rendering one piece to `target`; the future's result is its page count.

        `first_page` replaces FIRST_PAGE_MARK in the HTML.
        """
        assert self._executor is not None, "use PieceRenderer as a context manager"
        self.pieces += 1
        return self._executor.submit(
            render_piece, html, str(target), tuple(attachments), first_page
        )

    def render(self, html: str, target: Path, attachments: Sequence[DataFile] = ()) -> int:
        """Render one piece to `target`; its page count."""
        return self.submit(html, target, attachments).result()

    def join(self, pieces: Sequence[Path], target: Path) -> int:
        """Join the rendered pieces into `target`; its page count."""
        assert self._executor is not None, "use PieceRenderer as a context manager"
        return self._executor.submit(join_pieces, [str(p) for p in pieces], str(target)).result()
