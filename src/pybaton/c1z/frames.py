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

import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import xxhash
import zstandard

from pybaton.errors import C1ZError

DEFAULT_SLICE_BYTES = 4 << 20
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
        return cls(int(data["slice_bytes"]), frames, FileIdentity(**{k: int(v) for k, v in data["identity"].items()}))


@dataclass
class PackStats:
    """What one pack did (for logs and the benchmark)."""

    compressed: int = 0
    copied: int = 0


def slice_bytes_from_env() -> int:
    raw = os.environ.get("PYBATON_C1Z_FRAME_BYTES")
    if not raw:
        return DEFAULT_SLICE_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise C1ZError(f"PYBATON_C1Z_FRAME_BYTES={raw!r} is not a whole number of bytes") from None
    if value < 64 << 10:
        raise C1ZError("PYBATON_C1Z_FRAME_BYTES must be at least 65536")
    return value


def checksum_of(digest: int) -> bytes:
    """The content checksum zstd stores at the end of a frame whose content hashes to ``digest``."""
    return (digest & 0xFFFFFFFF).to_bytes(_CHECKSUM_BYTES, "little")


class _Compressors:
    """One compressor per pool thread (a zstd context is not shared between threads)."""

    def __init__(self, level: int) -> None:
        self._level = level
        self._local = threading.local()

    def compress(self, data: bytes) -> bytes:
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

    def frame_for(self, db_offset: int, data: bytes, digest: int) -> bytes | None:
        """The old frame's bytes when it holds exactly this slice, else None."""
        old = self._by_offset.get(db_offset)
        if old is None or self._old is None or old.db_length != len(data) or old.digest != digest:
            return None
        self._old.seek(old.offset)
        frame = self._old.read(old.length)
        if len(frame) != old.length or frame[-_CHECKSUM_BYTES:] != checksum_of(digest):
            return None  # the table does not describe this file after all: compress instead
        return frame


def _slices(src: BinaryIO, slice_bytes: int) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while data := src.read(slice_bytes):
        yield offset, data
        offset += len(data)


def write_frames(src: BinaryIO, dst: BinaryIO, start: int, *, level: int = 1, workers: int = 0,
                 slice_bytes: int = DEFAULT_SLICE_BYTES, previous: FrameTable | None = None,
                 previous_file: BinaryIO | None = None) -> tuple[list[Frame], PackStats]:
    """Write ``src`` to ``dst`` as one frame per slice; ``dst`` is at offset ``start``.

    Slices are read and hashed here, compressed on ``workers`` threads (0: one per core),
    and written in order; at most two slices per worker are in flight. With ``previous``
    (the table of ``previous_file``, checked against that open file's identity), an
    unchanged slice's frame is copied instead of compressed.
    """
    workers = workers or os.cpu_count() or 1
    reuse = _Reuse(previous, previous_file, slice_bytes)
    compressors = _Compressors(level)
    frames: list[Frame] = []
    stats = PackStats()
    pending: deque[tuple[int, int, int, Future[bytes] | bytes]] = deque()
    offset = start

    def drain(limit: int) -> None:
        nonlocal offset
        while len(pending) > limit:
            db_offset, db_length, digest, result = pending.popleft()
            frame = result if isinstance(result, bytes) else result.result()
            dst.write(frame)
            frames.append(Frame(db_offset, db_length, digest, offset, len(frame)))
            offset += len(frame)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="c1z-pack") as pool:
        for db_offset, data in _slices(src, slice_bytes):
            digest = xxhash.xxh64_intdigest(data)
            old = reuse.frame_for(db_offset, data, digest)
            if old is not None:
                stats.copied += 1
                pending.append((db_offset, len(data), digest, old))
            else:
                stats.compressed += 1
                pending.append((db_offset, len(data), digest, pool.submit(compressors.compress, data)))
            drain(2 * workers)
        drain(0)
    return frames, stats


def open_previous(path: Path) -> BinaryIO | None:
    """The packed file about to be replaced, opened for copying frames from (None if there is none)."""
    try:
        return path.open("rb")
    except OSError:
        return None


__all__ = ["DEFAULT_SLICE_BYTES", "FileIdentity", "Frame", "FrameTable", "PackStats", "checksum_of",
           "open_previous", "slice_bytes_from_env", "write_frames"]
