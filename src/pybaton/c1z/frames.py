"""Chunked packing: the database as independent zstd frames, one per fixed-size slice.

A ``.c1z`` stays Baton's format (``C1ZF\\x00`` then zstd data): RFC 8878 lets a stream be
several frames back to back, and every decoder that reads Baton files (Go's, ours) reads
them in order. Cutting the database into fixed slices (4 MiB by default) and compressing
each on its own buys two things:

* the slices compress in parallel on every core (zstd releases the GIL), as fast as one
  multithreaded frame;
* a :class:`FrameTable` records, per slice, where its frame lies in the packed file and a
  hash of its raw bytes. The next pack of the same (persistent) working database hashes
  its slices and recompresses only the ones that changed; an unchanged slice's frame is
  copied from the previous ``.c1z`` byte for byte. A run that changed a few pages then
  costs a few frames plus a read of the database, not a compression of all of it.

The slice hash is XXH64, the hash zstd's own content checksum is made of (its low 32
bits, stored little-endian at the end of each frame): before a frame is copied, its
checksum must agree with the slice's hash, so a stale or wrong table can never carry a
frame into the new file whose content is not that slice's.
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import xxhash
import zstandard

DEFAULT_SLICE_BYTES = 4 << 20  # PYBATON_C1Z_FRAME_BYTES changes it (see container.pack)
MIN_SLICE_BYTES = 64 << 10
_CHECKSUM_BYTES = 4


@dataclass(frozen=True)
class FileIdentity:
    """What tells one file on disk from another without reading it: a replaced, copied or
    restored file differs in at least one of these (a rename keeps the inode, a copy does not,
    a write moves the mtime)."""

    size: int
    mtime_ns: int
    ino: int
    dev: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            return cls.from_stat(path.stat())
        except OSError:
            return None

    @classmethod
    def from_stat(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileIdentity:
        """Raises ``TypeError`` / ``ValueError`` on a malformed identity (the caller drops what holds it)."""
        return cls(**{k: int(v) for k, v in data.items()})


@dataclass(frozen=True)
class Frame:
    """One slice of the database (``db_offset``, ``db_length``, XXH64 ``digest`` of its raw bytes)
    and where its frame lies in the packed file (``offset``, ``length``, the magic included in offsets)."""

    db_offset: int
    db_length: int
    digest: int
    offset: int
    length: int


@dataclass(frozen=True)
class FrameTable:
    """The frames of one packed file, and that file's identity when it was written."""

    slice_bytes: int
    frames: tuple[Frame, ...]
    identity: FileIdentity

    def to_json(self) -> dict[str, Any]:
        return {"slice_bytes": self.slice_bytes, "identity": asdict(self.identity),
                "frames": [[f.db_offset, f.db_length, f.digest, f.offset, f.length] for f in self.frames]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrameTable:
        """Raises ``KeyError`` / ``TypeError`` / ``ValueError`` on a malformed table (the caller drops it)."""
        frames = tuple(Frame(*(int(v) for v in row)) for row in data["frames"])
        return cls(int(data["slice_bytes"]), frames, FileIdentity.from_json(data["identity"]))


@dataclass
class PackStats:
    """What one pack did (for logs and the benchmark)."""

    frames: int = 0
    copied: int = 0

    @property
    def compressed(self) -> int:
        return self.frames - self.copied


def checksum_of(digest: int) -> bytes:
    """The content checksum zstd stores at the end of a frame whose content hashes to ``digest``."""
    return (digest & 0xFFFFFFFF).to_bytes(_CHECKSUM_BYTES, "little")


class _Compressors:
    """One compressor per pool thread (a zstd context is not shared between threads)."""

    def __init__(self, level: int) -> None:
        self._level = level
        self._local = threading.local()

    def compress(self, data: memoryview) -> bytes:
        cctx: zstandard.ZstdCompressor | None = getattr(self._local, "cctx", None)
        if cctx is None:
            cctx = zstandard.ZstdCompressor(level=self._level, write_checksum=True, write_content_size=True)
            self._local.cctx = cctx
        return cctx.compress(data)


class _Reuse:
    """Frames of the previous packed file that an unchanged slice may take over."""

    def __init__(self, table: FrameTable | None, old: BinaryIO | None, slice_bytes: int) -> None:
        usable = table is not None and old is not None and table.slice_bytes == slice_bytes \
            and FileIdentity.from_stat(os.fstat(old.fileno())) == table.identity
        self._old = old if usable else None
        self._by_offset = {f.db_offset: f for f in table.frames} if usable and table is not None else {}

    def unchanged(self, db_offset: int, db_length: int, digest: int) -> bool:
        """Whether the table holds this very slice (a dict lookup: safe from the packing threads)."""
        old = self._by_offset.get(db_offset)
        return old is not None and old.db_length == db_length and old.digest == digest

    def frame_for(self, db_offset: int, db_length: int, digest: int) -> bytes | None:
        """The old frame's bytes when it holds exactly this slice, else None."""
        old = self._by_offset.get(db_offset)
        if old is None or self._old is None or not self.unchanged(db_offset, db_length, digest):
            return None
        self._old.seek(old.offset)
        frame = self._old.read(old.length)
        if len(frame) != old.length or frame[-_CHECKSUM_BYTES:] != checksum_of(digest):
            return None  # the table does not describe this file after all: compress instead
        return frame


def write_frames(src: BinaryIO, dst: BinaryIO, start: int, *, level: int = 1, workers: int = 0,
                 slice_bytes: int = DEFAULT_SLICE_BYTES, previous: FrameTable | None = None,
                 previous_file: BinaryIO | None = None) -> tuple[list[Frame], PackStats]:
    """Write ``src`` to ``dst`` as one frame per slice; ``dst`` is at offset ``start``.

    The database is mapped, not read: each slice is hashed, and compressed unless the table
    says it is unchanged, on one of ``workers`` threads (0: one per core), straight from the
    page cache without a copy (a read costs 10% of a full pack's CPU, most of an unchanged
    re-pack's). Frames are written here, in order, at most two slices per worker in flight.
    With ``previous`` (the table of ``previous_file``, checked against that open file's
    identity), an unchanged slice's frame is copied, once its stored checksum agrees.
    """
    pack = _Pack(dst, start, workers or os.cpu_count() or 1, level, _Reuse(previous, previous_file, slice_bytes))
    size = os.fstat(src.fileno()).st_size
    if size == 0:
        pack.slices(memoryview(b""), 0, slice_bytes)
        return pack.frames, pack.stats
    mapped = mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ)
    pack.release = functools.partial(_release, mapped)
    try:
        view = memoryview(mapped)
        try:
            pack.slices(view, size, slice_bytes)
        finally:
            view.release()
    finally:
        # After a success every slice is gone with pack.slices' frame; after a failure its traceback
        # may still hold one, and the map is then unmapped when that goes.
        with contextlib.suppress(BufferError):
            mapped.close()
    return pack.frames, pack.stats


def _release(mapped: mmap.mmap, offset: int, length: int) -> None:
    """Drop a written slice's pages from this process's resident set (they stay in the page cache).

    Without it, packing maps the whole database into the process: a 1M-grant write's peak RSS
    grew by the database's size (277 MB to 652 MB)."""
    with contextlib.suppress(OSError, ValueError):
        mapped.madvise(mmap.MADV_DONTNEED, offset, length)


class _Pack:
    """The pipeline of one :func:`write_frames`: hash, copy or compress, write in order."""

    release: Callable[[int, int], None] | None = None

    def __init__(self, dst: BinaryIO, start: int, workers: int, level: int, reuse: _Reuse) -> None:
        self.dst = dst
        self.offset = start
        self.workers = workers
        self.reuse = reuse
        self.compressors = _Compressors(level)
        self.frames: list[Frame] = []
        self.stats = PackStats()
        self._pending: deque[tuple[int, memoryview, Future[tuple[int, bytes | None]]]] = deque()

    def slices(self, view: memoryview, size: int, slice_bytes: int) -> None:
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="c1z-pack") as pool:
            for db_offset in range(0, max(size, 1), slice_bytes):
                data = view[db_offset:db_offset + slice_bytes]
                self._pending.append((db_offset, data, pool.submit(self._hash_or_compress, db_offset, data)))
                del data
                self._drain(2 * self.workers)
            self._drain(0)

    def _hash_or_compress(self, db_offset: int, data: memoryview) -> tuple[int, bytes | None]:
        """On a packing thread: the slice's hash, and its frame unless the table says it is unchanged."""
        digest = xxhash.xxh64_intdigest(data)
        if self.reuse.unchanged(db_offset, len(data), digest):
            return digest, None
        return digest, self.compressors.compress(data)

    def _drain(self, limit: int) -> None:
        """Write the oldest slices' frames, in order: compressed ones, or the old frame copied (checked)."""
        while len(self._pending) > limit:
            db_offset, data, result = self._pending.popleft()
            digest, frame = result.result()
            if frame is None:
                frame = self.reuse.frame_for(db_offset, len(data), digest)
                self.stats.copied += frame is not None
            if frame is None:  # the old frame failed its check
                frame = self.compressors.compress(data)
            self.stats.frames += 1
            self.dst.write(frame)
            self.frames.append(Frame(db_offset, len(data), digest, self.offset, len(frame)))
            self.offset += len(frame)
            if self.release is not None:
                self.release(db_offset, len(data))


def open_previous(path: Path) -> BinaryIO | None:
    """The packed file about to be replaced, opened for copying frames from (None if there is none)."""
    try:
        return path.open("rb")
    except OSError:
        return None


__all__ = ["DEFAULT_SLICE_BYTES", "MIN_SLICE_BYTES", "FileIdentity", "Frame", "FrameTable", "PackStats", "checksum_of",
           "open_previous", "write_frames"]
