"""The ``.c1z`` container: a 5-byte magic, then zstd frames of a SQLite database.

This module only moves bytes between a packed ``.c1z`` and a plain SQLite file.
Unpacking is defensive (the file may be hostile): the decoder's window (its
memory) and the decompressed size are capped, and the payload must start with
SQLite's header. Packing is atomic: the new file is written beside the target,
fsynced and renamed over it, so a crash never leaves a truncated ``.c1z``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import zstandard

from pybaton.errors import C1ZError, C1ZFormatError

if TYPE_CHECKING:
    from pybaton.c1z import frames

log = logging.getLogger("pybaton.c1z")

MAGIC_V1 = b"C1ZF\x00"
MAGIC_V3 = b"C1Z3\x00"
SQLITE_HEADER = b"SQLite format 3\x00"
# Unpacking reads the packed file this much at a time, and the decoder hands back at most _UNPACK_OUT
# bytes per piece: each call then yields under a megabyte (the rows compress ~13:1), which the
# allocator hands out again from memory this process has already touched. A 1 MB read yields ~13 MB
# per call, a fresh allocation each time: on a virtual machine, first touches of fresh memory made
# the same unpack cost 0.3-1.3 s of CPU instead of a steady 0.25-0.3 s (a 470 MB database).
_UNPACK_READ = 64 << 10
_UNPACK_OUT = 1 << 20
# Disk space is reserved this far ahead of the unpacked bytes (see _Sink.write).
_RESERVE_STEP = 64 << 20

GiB = 1 << 30
MiB = 1 << 20


def env_bytes(name: str, default: int, *, minimum: int = 1) -> int:
    """A byte count from the environment variable ``name`` (``default`` when unset), checked."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise C1ZError(f"{name}={raw!r} is not a whole number of bytes") from None
    if value < minimum:
        raise C1ZError(f"{name} must be positive" if minimum == 1 else f"{name} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class DecodeLimits:
    """Caps that keep a hostile file from exhausting disk or memory.

    ``max_decoded_bytes`` bounds the unpacked SQLite size; ``max_window_bytes``
    bounds the zstd window, which is what the decoder allocates.
    Defaults come from ``PYBATON_C1Z_MAX_DECODED_BYTES`` / ``PYBATON_C1Z_MAX_WINDOW_BYTES``.
    """

    max_decoded_bytes: int = 16 * GiB
    max_window_bytes: int = 512 * MiB

    @classmethod
    def from_env(cls) -> DecodeLimits:
        return cls(
            max_decoded_bytes=env_bytes("PYBATON_C1Z_MAX_DECODED_BYTES", cls.max_decoded_bytes),
            max_window_bytes=env_bytes("PYBATON_C1Z_MAX_WINDOW_BYTES", cls.max_window_bytes),
        )


def sniff(path: Path) -> bytes:
    """Return the first five bytes of ``path`` (its magic), with clear errors."""
    try:
        with path.open("rb") as fh:
            return fh.read(len(MAGIC_V1))
    except FileNotFoundError:
        raise C1ZError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise C1ZError(f"{path}: is a directory, not a .c1z file") from None
    except PermissionError:
        raise C1ZError(f"{path}: permission denied") from None
    except OSError as exc:
        raise C1ZError(f"{path}: cannot read: {exc.strerror or exc}") from None


def check_magic(path: Path, magic: bytes) -> None:
    if magic in (MAGIC_V1, MAGIC_V3):
        return
    if not magic:
        raise C1ZFormatError(f"{path}: the file is empty, not a .c1z file")
    raise C1ZFormatError(f"{path}: not a .c1z file (unknown header {magic[:5]!r})")


def unpack(path: Path, db_path: Path, limits: DecodeLimits | None = None) -> None:
    """Decompress the ``.c1z`` at ``path`` into the SQLite file ``db_path``.

    A v3 (Pebble) file is materialized into the same v1 layout by :mod:`pybaton.c1z.v3`.
    """
    limits = limits or DecodeLimits.from_env()
    magic = sniff(path)
    check_magic(path, magic)
    if magic == MAGIC_V3:
        from pybaton.c1z.v3 import materialize  # the v3 reader builds on this module

        materialize(path, db_path, limits)
        return
    dctx = zstandard.ZstdDecompressor(max_window_size=limits.max_window_bytes)
    sink = _Sink(path, limits.max_decoded_bytes)
    try:
        with path.open("rb") as src, db_path.open("wb") as dst:
            src.seek(len(MAGIC_V1))
            dobj = dctx.decompressobj(write_size=_UNPACK_OUT)
            mid_frame = False
            while chunk := src.read(_UNPACK_READ):
                while chunk:
                    sink.write(dst, dobj.decompress(chunk))
                    mid_frame = not dobj.eof
                    # A file may hold several frames back to back: start a new one on the leftover.
                    chunk = dobj.unused_data if dobj.eof else b""
                    if dobj.eof:
                        dobj = dctx.decompressobj(write_size=_UNPACK_OUT)
            if mid_frame:
                raise C1ZFormatError(f"{path}: corrupt or truncated compressed data (the stream ends mid-frame)")
            if sink.written == 0:
                raise C1ZFormatError(f"{path}: the file holds no data after its header (truncated?)")
            sink.finish(dst)
    except zstandard.ZstdError as exc:
        msg = str(exc)
        if "window" in msg.lower() or "memory" in msg.lower():
            raise C1ZFormatError(
                f"{path}: the compressed stream needs more decoder memory than allowed "
                f"({limits.max_window_bytes} bytes; set PYBATON_C1Z_MAX_WINDOW_BYTES)"
            ) from None
        raise C1ZFormatError(f"{path}: corrupt or truncated compressed data ({msg})") from None
    except OSError as exc:
        if isinstance(exc, C1ZError):
            raise
        raise C1ZError(f"{path}: cannot unpack: {exc.strerror or exc}") from None


def pack(db_path: Path, path: Path, *, level: int = 1, workers: int = 0,
         previous: frames.FrameTable | None = None) -> frames.FrameTable:
    """Compress the SQLite file ``db_path`` into ``path``, atomically; return the new file's frame table.

    Level 1: the files are dominated by repetitive protobuf rows, where higher levels cost
    seconds for a few percent of size. The database is cut into fixed slices, one zstd frame
    each, compressed on every core (see :mod:`pybaton.c1z.frames`); with ``previous`` (the
    table of the file at ``path`` now), unchanged slices keep their frames. Each frame carries
    zstd's content checksum (as Go's encoder writes it), so a damaged file is refused when
    unpacked instead of reaching SQLite as a plausible-looking database.
    """
    from pybaton.c1z import frames  # the pool and the hash are a writer's: read commands start without them

    path = path.absolute()
    directory = path.parent
    if not directory.is_dir():
        raise C1ZError(f"{path}: directory {directory} does not exist")
    slice_bytes = env_bytes("PYBATON_C1Z_FRAME_BYTES", frames.DEFAULT_SLICE_BYTES, minimum=frames.MIN_SLICE_BYTES)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    old = frames.open_previous(path) if previous is not None else None
    try:
        with os.fdopen(fd, "wb") as dst, db_path.open("rb") as src:
            dst.write(MAGIC_V1)
            written, stats = frames.write_frames(src, dst, len(MAGIC_V1), level=level, workers=workers,
                                                 slice_bytes=slice_bytes, previous=previous, previous_file=old)
            dst.flush()
            os.fsync(dst.fileno())
            identity = frames.FileIdentity.from_stat(os.fstat(dst.fileno()))
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
        fsync_dir(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if old is not None:
            old.close()
    log.debug("%s: packed %d frames (%d compressed, %d copied unchanged)", path, len(written),
              stats.compressed, stats.copied)
    return frames.FrameTable(slice_bytes, tuple(written), identity)


def _file_mode(path: Path) -> int:
    """Keep an existing file's mode; new files get the usual 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class _Sink:
    """Writes decompressed bytes, checking the SQLite header and the size cap.

    Space is reserved (``posix_fallocate``) in steps ahead of the data: on ext4,
    letting every page allocate its own block costs several times the
    decompression itself (about 0.9 s of kernel time for 500 MB, against 0.1 s
    with the extents reserved). Reservations never pass the size cap, and
    :meth:`finish` cuts the file back to what was written.
    """

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.written = 0
        self._head = b""
        self._reserved = 0
        self._reserve = hasattr(os, "posix_fallocate")

    def write(self, dst: BinaryIO, data: bytes) -> None:
        if not data:
            return
        if len(self._head) < len(SQLITE_HEADER):
            self._head += data[: len(SQLITE_HEADER) - len(self._head)]
            if not SQLITE_HEADER.startswith(self._head[: len(SQLITE_HEADER)]):
                raise C1ZFormatError(f"{self.path}: the payload is not a SQLite database")
        self.written += len(data)
        if self.written > self.limit:
            raise C1ZFormatError(
                f"{self.path}: decompressed size exceeds the limit of {self.limit} bytes "
                "(set PYBATON_C1Z_MAX_DECODED_BYTES to allow more)"
            )
        if self._reserve and self.written > self._reserved:
            self._reserve_ahead(dst)
        dst.write(data)

    def _reserve_ahead(self, dst: BinaryIO) -> None:
        """Reserve the next step of disk (a file system without ``fallocate`` just goes without)."""
        end = min(self.written + _RESERVE_STEP, self.limit)
        try:
            os.posix_fallocate(dst.fileno(), self._reserved, end - self._reserved)
        except OSError:
            self._reserve = False  # unsupported here, or the disk is full: the write itself will say so
            return
        self._reserved = end

    def finish(self, dst: BinaryIO) -> None:
        """Cut off the reserved space past the data (SQLite reads the file's size as its page count)."""
        dst.flush()
        if self._reserved > self.written:
            dst.truncate(self.written)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: some file systems cannot fsync a directory)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
