"""A small cache of unpacked ``.c1z`` databases for repeated reads.

Unpacking is the dominant cost of a read command on a big file (a 1M-grant
file is ~35 MB packed, ~470 MB unpacked). The cache keeps the unpacked,
validated and migrated database keyed by the file's identity (path, size,
mtime, inode), so the next command on the same unchanged file opens instantly.
Entries are immutable once published (renamed into place); the oldest are
evicted beyond a size budget. ``PYBATON_C1Z_CACHE=0`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DEFAULT_BUDGET = 4 << 30
MIN_PACKED_SIZE = 1 << 20
# A v3 (Pebble) file costs about a second per packed MB to materialize, so smaller ones are worth keeping.
MIN_PACKED_SIZE_V3 = 256 << 10
_MAGIC_V3 = b"C1Z3\x00"


def enabled() -> bool:
    return os.environ.get("PYBATON_C1Z_CACHE", "1").lower() not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    base = os.environ.get("PYBATON_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pybaton")
    return Path(base) / "c1z"


def key_for(path: Path) -> str | None:
    """The cache key of ``path`` as it is now, or None when not worth caching."""
    try:
        st = path.stat()
    except OSError:
        return None
    if st.st_size < MIN_PACKED_SIZE and not (st.st_size >= MIN_PACKED_SIZE_V3 and _is_v3(path)):
        return None
    ident = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0{st.st_dev}"
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def _is_v3(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(_MAGIC_V3)) == _MAGIC_V3
    except OSError:
        return False


def lookup(key: str) -> Path | None:
    entry = cache_dir() / f"{key}.sqlite"
    if entry.exists():
        os.utime(entry)
        return entry
    return None


def staging_path(key: str) -> Path:
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory / f".{key}.{os.getpid()}.tmp"


def publish(staged: Path, key: str) -> Path:
    """Move a fully prepared database into the cache, then trim the cache."""
    entry = cache_dir() / f"{key}.sqlite"
    os.replace(staged, entry)
    evict(keep=entry)
    return entry


def evict(*, keep: Path, budget: int = DEFAULT_BUDGET) -> None:
    entries = sorted(cache_dir().glob("*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for entry in entries:
        total += entry.stat().st_size
        if total > budget and entry != keep:
            entry.unlink(missing_ok=True)
