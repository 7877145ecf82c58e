"""The v3 envelope: ``C1Z3\\0``, a big-endian uint32 manifest length, a ``C1ZManifestV3``, the payload.

The payload is a Pebble checkpoint directory in one of three encodings:
INDEXED_ZSTD (Baton's default: one zstd frame per file, then a protobuf frame
index, then the footer ``u64 offset | u32 length | u64 xxh64(index) |
"C1ZIDX1\\0"``, big-endian), TAR_ZSTD or plain TAR. :func:`extract` writes
the files into a directory under the same caps as v1 (decoded bytes, zstd
window), checking every frame's xxHash64.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import xxhash
import zstandard
from google.protobuf.message import DecodeError

from pybaton.c1z.container import MAGIC_V3, DecodeLimits
from pybaton.c1z.v3.wire import Corrupt
from pybaton.pb.c1.c1z.v3 import manifest_pb2

MAX_MANIFEST_BYTES = 64 << 20
MAX_INDEX_BYTES = 64 << 20
MAX_NAME_BYTES = 4096
FOOTER_MAGIC = b"C1ZIDX1\x00"
FOOTER_LEN = 28
_CHUNK = 1 << 20

TAR_ZSTD = manifest_pb2.PAYLOAD_ENCODING_TAR_ZSTD
TAR = manifest_pb2.PAYLOAD_ENCODING_TAR
INDEXED_ZSTD = manifest_pb2.PAYLOAD_ENCODING_INDEXED_ZSTD


@dataclass(frozen=True)
class Envelope:
    manifest: manifest_pb2.C1ZManifestV3
    payload_start: int
    size: int
    manifest_xxh64: int


def read_envelope(fh: BinaryIO, size: int) -> Envelope:
    """Parse the header and manifest; refuse engines and encodings this reader does not know."""
    head = fh.read(9)
    if len(head) < 9 or head[:5] != MAGIC_V3:
        raise Corrupt("the v3 header is truncated")
    length = int.from_bytes(head[5:9], "big")
    if length > MAX_MANIFEST_BYTES or 9 + length > size:
        raise Corrupt(f"the manifest length {length} does not fit the file ({size} bytes)")
    raw = fh.read(length)
    try:
        manifest = manifest_pb2.C1ZManifestV3.FromString(raw)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise Corrupt(f"the manifest does not decode ({exc})") from None
    if not manifest.engine.startswith("pebble"):
        raise Corrupt(f"unknown storage engine {manifest.engine!r} (pybaton reads Pebble v3 files)")
    if manifest.payload_encoding not in (TAR_ZSTD, TAR, INDEXED_ZSTD):
        raise Corrupt(f"unknown payload encoding {manifest.payload_encoding}")
    return Envelope(manifest, 9 + length, size, xxhash.xxh64_intdigest(raw))


class _Budget:
    """Counts decoded bytes across all payload files against the decode cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise Corrupt(f"the payload decodes to more than {self.limit} bytes "
                          "(set PYBATON_C1Z_MAX_DECODED_BYTES to allow more)")


def _safe_name(name: str) -> str:
    """Payload files live in one flat directory; anything else (paths, dot names) is refused."""
    if not name or len(name) > MAX_NAME_BYTES or "/" in name or "\\" in name or name in (".", "..") \
            or "\x00" in name:
        raise Corrupt(f"the payload holds a file with an unsafe name {name[:80]!r}")
    return name


def extract(fh: BinaryIO, env: Envelope, dest: Path, limits: DecodeLimits) -> list[str]:
    """Write every payload file into ``dest``; return their names."""
    budget = _Budget(limits.max_decoded_bytes)
    dctx = zstandard.ZstdDecompressor(max_window_size=limits.max_window_bytes)
    try:
        if env.manifest.payload_encoding == INDEXED_ZSTD:
            return _extract_indexed(fh, env, dest, dctx, budget)
        return _extract_tar(fh, env, dest, dctx, budget)
    except zstandard.ZstdError as exc:
        msg = str(exc)
        if "window" in msg.lower() or "memory" in msg.lower():
            raise Corrupt(f"the payload needs more decoder memory than allowed ({limits.max_window_bytes} bytes; "
                          "set PYBATON_C1Z_MAX_WINDOW_BYTES)") from None
        raise Corrupt(f"corrupt or truncated compressed data ({msg})") from None


def _read_index(fh: BinaryIO, env: Envelope) -> manifest_pb2.IndexedFrameIndex:
    if env.size < env.payload_start + FOOTER_LEN:
        raise Corrupt("the payload is too short for its index footer (truncated?)")
    fh.seek(env.size - FOOTER_LEN)
    footer = fh.read(FOOTER_LEN)
    if footer[20:] != FOOTER_MAGIC:
        raise Corrupt("the payload's index footer is missing (truncated file?)")
    offset = int.from_bytes(footer[:8], "big")
    length = int.from_bytes(footer[8:12], "big")
    if length > MAX_INDEX_BYTES or offset < env.payload_start or offset + length + FOOTER_LEN != env.size:
        raise Corrupt(f"the payload index (offset {offset}, {length} bytes) does not fit the file")
    fh.seek(offset)
    raw = fh.read(length)
    if xxhash.xxh64_intdigest(raw) != int.from_bytes(footer[12:20], "big"):
        raise Corrupt("the payload index checksum does not match (corrupt index)")
    try:
        return manifest_pb2.IndexedFrameIndex.FromString(raw)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise Corrupt(f"the payload index does not decode ({exc})") from None


def _extract_indexed(fh: BinaryIO, env: Envelope, dest: Path, dctx: zstandard.ZstdDecompressor,
                     budget: _Budget) -> list[str]:
    index = _read_index(fh, env)
    if index.manifest_xxh64 and index.manifest_xxh64 != env.manifest_xxh64:
        raise Corrupt("the manifest checksum does not match (corrupt manifest)")
    index_start = _index_offset(fh, env)
    names: list[str] = []
    for entry in index.entries:
        name = _safe_name(entry.name)
        if name in names:
            raise Corrupt(f"the payload index lists {name!r} twice")
        if entry.compressed_size <= 0 or entry.frame_offset < env.payload_start \
                or entry.frame_offset + entry.compressed_size > index_start:
            raise Corrupt(f"the frame of {name!r} lies outside the payload")
        if entry.raw_size < 0:
            raise Corrupt(f"the frame of {name!r} has a negative size")
        budget.take(entry.raw_size)
        fh.seek(entry.frame_offset)
        digest = xxhash.xxh64()
        written = 0
        with (dest / name).open("wb") as out:
            reader = dctx.stream_reader(_Window(fh, entry.compressed_size),  # type: ignore[arg-type]
                                        read_across_frames=False)
            while chunk := reader.read(_CHUNK):
                written += len(chunk)
                if written > entry.raw_size:
                    raise Corrupt(f"the frame of {name!r} decodes to more than its stated {entry.raw_size} bytes")
                digest.update(chunk)
                out.write(chunk)
        if written != entry.raw_size:
            raise Corrupt(f"the frame of {name!r} is truncated ({written} of {entry.raw_size} bytes)")
        if digest.intdigest() != entry.raw_xxh64:
            raise Corrupt(f"the checksum of {name!r} does not match")
        names.append(name)
    return names


def _index_offset(fh: BinaryIO, env: Envelope) -> int:
    fh.seek(env.size - FOOTER_LEN)
    return int.from_bytes(fh.read(8), "big")


class _Window:
    """A read-only file view limited to ``length`` bytes from the current position."""

    def __init__(self, fh: BinaryIO, length: int) -> None:
        self._fh = fh
        self._left = length

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n < 0 else min(n, self._left)
        data = self._fh.read(n)
        self._left -= len(data)
        return data


class _CappedStream:
    """A decompressed stream that stops at the decode cap."""

    def __init__(self, source: Any, budget: _Budget) -> None:
        self._source = source
        self._budget = budget

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._source.read(n if n >= 0 else _CHUNK)
        self._budget.take(len(data))
        return data


def _tar_members(stream: Any) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                yield archive, member
    except tarfile.TarError as exc:
        raise Corrupt(f"the payload archive is damaged ({exc})") from None


def _extract_tar(fh: BinaryIO, env: Envelope, dest: Path, dctx: zstandard.ZstdDecompressor,
                 budget: _Budget) -> list[str]:
    fh.seek(env.payload_start)
    source: Any = _Window(fh, env.size - env.payload_start)
    if env.manifest.payload_encoding == TAR_ZSTD:
        source = dctx.stream_reader(source, read_across_frames=True)
    names: list[str] = []
    for archive, member in _tar_members(_CappedStream(source, budget)):
        if member.isdir():
            continue
        if not member.isfile():
            raise Corrupt(f"the payload archive holds a link or device {member.name[:80]!r}")
        name = _safe_name(member.name.removeprefix("./"))
        extracted = archive.extractfile(member)
        if extracted is None:
            continue
        with (dest / name).open("wb") as out:
            while chunk := extracted.read(_CHUNK):
                out.write(chunk)
        names.append(name)
    return names
