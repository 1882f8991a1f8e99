"""Landed files as the lines they hold, handed to DuckDB as a stream of Arrow batches.

DuckDB's CSV reader also ends a line at a lone carriage return, which JSON allows as whitespace
inside a line: a valid event would become two broken ones and lose a byte. Here only `\\n` ends
a line, a `\\r` just before it belongs to the line ending, and every other byte stays in its
line. Files are read a block at a time (gzip by extension), so memory follows the block, not
the file. A block goes to DuckDB as it was read, with each line's start and length found by a
few vector operations; DuckDB cuts the lines out and checks they are UTF-8 (read_lines.sql).
A thread of its own reads ahead, so reading overlaps DuckDB's work on the blocks before.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator, Sequence
from queue import Empty, Full, Queue
from typing import BinaryIO

import numpy as np
import pyarrow as pa

BLOCK_BYTES = 8 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024
READ_AHEAD = 4  # blocks
SCHEMA = pa.schema(
    [
        ("path", pa.dictionary(pa.int32(), pa.large_string())),
        ("line_number", pa.int64()),
        ("line", pa.large_binary()),  # with its line ending, if any
        ("length", pa.int64()),  # without it
    ]
)
_NEWLINE, _RETURN = 10, 13


class FileNotReadable(Exception):
    """A file cannot be read as lines of UTF-8 text; `path` names it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class LandedLines:
    """Every line of `paths`, numbered from 1 in each file.

    `reader()` is what DuckDB scans; `close()` stops the reading thread. A file that cannot be
    read ends the stream and DuckDB reports a generic error: `failure` then says which file and
    why, and `not_utf8()` finds a line DuckDB could not take as text.
    """

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self.failure: FileNotReadable | None = None
        self._stop = threading.Event()

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(SCHEMA, self._ahead())

    def close(self) -> None:
        self._stop.set()

    def not_utf8(self) -> FileNotReadable | None:
        """The first line of the files that is not UTF-8 text, or None."""
        for path in self.paths:
            numbered = 0
            with _open(path) as file:
                for block in _blocks(file):
                    try:
                        block.decode("utf-8")
                    except UnicodeDecodeError as error:
                        where = numbered + block.count(b"\n", 0, error.start) + 1
                        return FileNotReadable(path, f"line {where} is not UTF-8 text")
                    numbered += block.count(b"\n")
        return None

    def _ahead(self) -> Iterator[pa.RecordBatch]:
        """The batches, made by a thread of their own up to READ_AHEAD blocks ahead."""
        made: Queue = Queue(READ_AHEAD)
        thread = threading.Thread(target=self._make, args=(made,), daemon=True)
        thread.start()
        try:
            while True:
                try:
                    item = made.get(timeout=0.1)
                except Empty:
                    if self._stop.is_set():
                        return
                    continue
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            thread.join()

    def _make(self, made: Queue) -> None:
        try:
            for batch in self._batches():
                if not self._hand_over(made, batch):
                    return
            self._hand_over(made, None)
        except BaseException as error:  # noqa: BLE001 - raised again where DuckDB reads
            self._hand_over(made, error)

    def _hand_over(self, made: Queue, item: object) -> bool:
        while not self._stop.is_set():
            try:
                made.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def _batches(self) -> Iterator[pa.RecordBatch]:
        names = pa.array(self.paths, pa.large_string())
        for index, path in enumerate(self.paths):
            try:
                yield from _file_batches(path, index, names)
            except FileNotReadable as failure:
                self.failure = failure
                raise
            except (OSError, EOFError, zlib.error) as error:
                self.failure = FileNotReadable(path, _describe(error))
                raise self.failure from error


def _file_batches(path: str, index: int, names: pa.Array) -> Iterator[pa.RecordBatch]:
    numbered = 0
    with _open(path) as file:
        for block in _blocks(file):
            line, lengths = _split(block)
            if lengths.max() > MAX_LINE_BYTES:
                where = numbered + int(np.argmax(lengths > MAX_LINE_BYTES)) + 1
                raise FileNotReadable(path, f"line {where} is longer than {MAX_LINE_BYTES:,} bytes")
            count = len(lengths)
            files = pa.array(np.full(count, index, np.int32))
            yield pa.record_batch(
                [
                    pa.DictionaryArray.from_arrays(files, names),
                    pa.array(np.arange(numbered + 1, numbered + count + 1, dtype=np.int64)),
                    line,
                    pa.array(lengths),
                ],
                schema=SCHEMA,
            )
            numbered += count


def _open(path: str) -> BinaryIO:
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # noqa: SIM115


def _blocks(file: BinaryIO) -> Iterator[bytes]:
    """Blocks of whole lines: each ends with `\\n`, except the file's last, and a line longer
    than the limit, which is handed over unfinished once it passes the limit."""
    rest = b""
    while True:
        read = file.read(BLOCK_BYTES)
        if not read:
            if rest:
                yield rest
            return
        block = rest + read if rest else read
        cut = block.rfind(b"\n") + 1
        if cut == 0 and len(block) <= MAX_LINE_BYTES:
            rest = block
            continue
        cut = cut or len(block)
        rest = block[cut:]
        yield block[:cut] if cut < len(block) else block


def _split(block: bytes) -> tuple[pa.LargeBinaryArray, np.ndarray]:
    """The block's lines, each with its line ending, and their lengths in bytes without it.

    A line ends at `\\n`, and a `\\r` right before it is part of the ending; a last line
    without `\\n` is kept whole.
    """
    data = np.frombuffer(block, np.uint8)
    newlines = np.flatnonzero(data == _NEWLINE)
    closed = len(newlines)
    ends = newlines if closed and newlines[-1] == len(data) - 1 else np.append(newlines, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    before = newlines - 1
    lengths[:closed] -= (before >= starts[:closed]) & (data[np.maximum(before, 0)] == _RETURN)
    offsets = np.append(starts, len(data)).astype(np.int64)
    line = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    return line, lengths


def _describe(error: BaseException) -> str:
    if isinstance(error, gzip.BadGzipFile):
        return f"not a GZIP file ({error})"
    if isinstance(error, EOFError | zlib.error):
        return f"corrupt or truncated GZIP data ({error})"
    return str(error)
