"""Render a long document in bounded pieces, each in a child process, and join them.

WeasyPrint lays a whole document out in memory: a class's year in one document takes
memory in proportion to the year (DESIGN §5 forbids that on a Raspberry Pi). Here
each piece (a subject's month of grid pages, a few dozen topic rows) is rendered as
its own PDF/A-3b by a child process that is replaced after a few pieces, so whatever
WeasyPrint keeps is given back to the system. The pieces are then joined by pypdf in
the child as well, keeping the first piece's catalog: its one XMP metadata stream
(pdfaid part 3, conformance B), its sRGB OutputIntent and its attached data files
(EmbeddedFiles and the AF array). Every piece embeds the fonts it uses, so every page
of the joined file keeps its own embedded fonts; the join renames each font subset
after its own program (see `retag_fonts`).

The child dies with the worker (Linux: PR_SET_PDEATHSIG), and a child that crashes or
is interrupted comes back to the job as an ordinary exception, never as a
KeyboardInterrupt that would take the job runner down.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from ..pdf import DataFile

PIECES_PER_CHILD = 16  # then a fresh child: whatever WeasyPrint kept is given back
# Stands for the piece's first sheet number in its HTML until the piece before it is
# rendered: the parent prepares the next piece while the child renders this one.
FIRST_PAGE_MARK = "EZH-FIRST-PAGE"
CRASHED = (
    "Печать прервалась: процесс печати завершился аварийно, возможно, не хватило "
    "памяти. Попробуйте ещё раз."
)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class RenderInterrupted(Exception):  # noqa: N818  (a message for the user, not a bug)
    """The child was interrupted (SIGINT) in the middle of a piece: the print failed."""


def render_piece(
    html: str,
    target: str,
    attachments: Sequence[DataFile] = (),
    first_page: int | None = None,
) -> int:
    """Render one piece to `target` (PDF/A-3b); its page count. Runs in the child.

    A table running past the page raises `pdf.LayoutError`: a bound record is never
    printed cut off.
    """
    from ..pdf import write_pdfa  # WeasyPrint is imported by the child only

    if first_page is not None:
        html = html.replace(FIRST_PAGE_MARK, str(first_page))
    return write_pdfa(html, Path(target), attachments=attachments, check_fit=True)


def warm_up() -> None:
    """Load WeasyPrint in a fresh child while the parent reads the database."""
    import weasyprint  # noqa: F401


def die_with_parent(parent: int) -> None:
    """Pool initializer: the kernel kills this child when the worker dies (Linux).

    Otherwise a worker killed mid-print (out of memory, systemd stop) leaves a
    rendering child behind that holds its memory until it finishes for nobody.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the worker died before prctl took effect
        os._exit(1)


def guarded(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn` in the child; an interrupt comes back as an Exception, not a BaseException.

    A KeyboardInterrupt re-raised in the worker by `Future.result()` would escape the
    job runner's `except Exception` and stop the worker; RenderInterrupted fails the
    job instead.
    """
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise RenderInterrupted(CRASHED) from None


# --- the join -------------------------------------------------------------------------


def join_pieces(
    pieces: Sequence[str], target: str, bookmarks: Sequence[tuple[int, str]] = ()
) -> int:
    """Join piece files into `target` keeping the first one's catalog; the page count.

    `bookmarks` are (page index, title) entries of the joined file's outline. Written
    to a temporary name and renamed, so a failed join never leaves a file that looks
    finished (and never leaves the temporary file behind).
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
    retag_fonts(writer)
    _dedupe_associated_files(writer)
    for page, title in bookmarks:
        if 0 <= page < len(writer.pages):
            writer.add_outline_item(title=title, page_number=page)
    partial = f"{target}.part"
    try:
        with open(partial, "wb") as fh:
            writer.write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return len(writer.pages)


def subset_tag(program: bytes) -> str:
    """Six capital letters from a hash of the embedded font program (ISO 32000-1 §9.6.4).

    WeasyPrint tags a subset after the whole font, so the pieces of a joined journal
    would carry different subsets under one name; a reader may then take one subset
    for another and draw wrong glyphs. Named after its own bytes, each subset is unique.
    """
    digest = hashlib.sha256(program).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


def retag_fonts(writer) -> None:
    """Rename every embedded font subset of the joined file after its own program."""
    done: set[int] = set()
    for page in writer.pages:
        for font in _fonts(page.get("/Resources"), set()):
            if id(font) in done:
                continue
            done.add(id(font))
            _retag(font)


def _fonts(resources, seen: set[int]) -> Iterator:
    """The font dictionaries of a resource dictionary and of its form XObjects."""
    if resources is None:
        return
    resources = resources.get_object()
    if id(resources) in seen:
        return
    seen.add(id(resources))
    for ref in (resources.get("/Font") or {}).values():
        yield ref.get_object()
    for ref in (resources.get("/XObject") or {}).values():
        xobject = ref.get_object()
        if xobject.get("/Subtype") == "/Form":
            yield from _fonts(xobject.get("/Resources"), seen)


def _retag(font) -> None:
    from pypdf.generic import NameObject

    descendants = font.get("/DescendantFonts")
    cid_font = descendants[0].get_object() if descendants else None
    holder = cid_font if cid_font is not None else font
    descriptor = holder.get("/FontDescriptor")
    if descriptor is None:  # Type3 or a standard font: nothing embedded to name
        return
    descriptor = descriptor.get_object()
    program = next(
        (descriptor[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor),
        None,
    )
    if program is None:
        return
    tag = subset_tag(program.get_object().get_data())
    name = str(font.get("/BaseFont", descriptor.get("/FontName", "/Font")))[1:]
    prefix, plus, rest = name.partition("+")
    base = rest if plus and len(prefix) == 6 and prefix.isupper() else name
    new = NameObject(f"/{tag}+{base}")
    font[NameObject("/BaseFont")] = new
    if cid_font is not None:
        cid_font[NameObject("/BaseFont")] = new
    descriptor[NameObject("/FontName")] = new


def _dedupe_associated_files(writer) -> None:
    """One entry per attached file in the catalog's AF array (the clone may repeat some)."""
    from pypdf.generic import ArrayObject, NameObject

    root = writer._root_object
    entries = root.get("/AF")
    if entries is None:
        return
    kept, seen = ArrayObject(), set()
    for entry in entries.get_object():
        spec = entry.get_object()
        key = getattr(entry, "idnum", None) or str(spec.get("/UF", spec.get("/F", "")))
        if key in seen:
            continue
        seen.add(key)
        kept.append(entry)
    root[NameObject("/AF")] = kept


# --- the renderer ---------------------------------------------------------------------


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
    and tests; the pieces and the join are the same. A child that dies raises
    `concurrent.futures.process.BrokenProcessPool` from the future; an interrupted one
    RenderInterrupted.
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
                initializer=die_with_parent,
                initargs=(os.getpid(),),
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

    def call(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run a picklable `fn(*args)` in the child (in this process if `in_process`)."""
        assert self._executor is not None, "use PieceRenderer as a context manager"
        if self.in_process:  # an interrupt here is the worker's own: let it through
            return self._executor.submit(fn, *args)
        return self._executor.submit(guarded, fn, *args)

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
        self.pieces += 1
        return self.call(render_piece, html, str(target), tuple(attachments), first_page)

    def render(self, html: str, target: Path, attachments: Sequence[DataFile] = ()) -> int:
        """Render one piece to `target`; its page count."""
        return self.submit(html, target, attachments).result()

    def join(
        self, pieces: Sequence[Path], target: Path, bookmarks: Sequence[tuple[int, str]] = ()
    ) -> int:
        """Join the rendered pieces into `target` (outline: `bookmarks`); its page count."""
        return self.call(
            join_pieces, [str(p) for p in pieces], str(target), tuple(bookmarks)
        ).result()
