"""The persistent working database of a sync: kept unpacked beside the ``.c1z`` between runs.

An incremental run that changes a few rows should cost a few pages, but unpacking the whole
``.c1z`` at the start and packing it all at the end costs as much as the file is big (~14 s
and ~18 s at 3M grants). So after a successful save the sync keeps its working directory
(``<file>.wip/``: ``db.sqlite``) with a *manifest* that says which ``.c1z`` the database
equals (its :class:`~pybaton.c1z.frames.FileIdentity`) and that file's frame table (for the
next incremental pack, see :mod:`pybaton.c1z.frames`). The next run reuses the database
when both the ``.c1z`` and the database are exactly as the manifest recorded them;
otherwise the database is dropped and the file unpacked as before.

Crash safety rests on a *dirty marker*, written (durably) before the first write of a run
and holding the identity of the ``.c1z`` the run started from; the manifest is written and
the marker removed only after the new ``.c1z`` has been renamed into place. On the next run:

* no marker, a manifest, both identities match: the database equals the file; reuse it;
* a marker whose ``.c1z`` is still the one the run started from: an interrupted run; resume
  from the database as the engine always did;
* a marker whose ``.c1z`` changed since (our own save landed before the kill, or the file
  was replaced): the file is the truth; drop the database and unpack;
* a manifest that no longer matches (the file replaced, copied, restored, or the database
  touched): drop the database and unpack.

Readers never look here: they open the ``.c1z`` itself. ``PYBATON_KEEP_WORKDB=0`` turns the
keeping off (the working directory is removed after every run, as before).
"""

from __future__ import annotations

import enum
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pybaton.c1z.container import fsync_dir
from pybaton.c1z.export import atomic_path
from pybaton.c1z.frames import FileIdentity, FrameTable

log = logging.getLogger("pybaton.c1z")

DB_NAME = "db.sqlite"
MANIFEST = "manifest.json"
DIRTY = "dirty"
VACUUMED = DB_NAME + ".vacuumed"
_KEEP = ("lock",)


def enabled() -> bool:
    """Whether syncs keep their working database (``PYBATON_KEEP_WORKDB``, on by default)."""
    return os.environ.get("PYBATON_KEEP_WORKDB", "1").lower() not in ("0", "false", "no", "off")


class Reuse(enum.Enum):
    """What the next run starts from."""

    FRESH = "fresh"      # nothing usable: unpack the .c1z (or start an empty one)
    CLEAN = "clean"      # the kept database equals the .c1z: use it as is
    RESUME = "resume"    # an interrupted run's database: resume from it


@dataclass(frozen=True)
class Manifest:
    """The kept database equals the ``.c1z`` whose identity is ``frames.identity``."""

    db: FileIdentity
    frames: FrameTable

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "db": asdict(self.db), "frames": self.frames.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("version") != 1:
            raise ValueError("unknown manifest version")
        return cls(FileIdentity.from_json(data["db"]), FrameTable.from_json(data["frames"]))


@dataclass(frozen=True)
class Start:
    """The outcome of :func:`prepare`: how to open, and the frame table an incremental pack may build on."""

    reuse: Reuse
    previous: FrameTable | None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp file, fsync, rename, fsync of the directory)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data))
    fsync_dir(path.parent)


def load_manifest(workdir: Path) -> Manifest | None:
    data = _read_json(workdir / MANIFEST)
    if data is None:
        return None
    try:
        return Manifest.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None


def _dirty_base(workdir: Path) -> tuple[bool, FileIdentity | None]:
    """(marked dirty, identity of the .c1z the dirty run started from; None when there was none)."""
    data = _read_json(workdir / DIRTY)
    if data is None:
        return (workdir / DIRTY).exists(), None
    base = data.get("c1z")
    try:
        return True, FileIdentity.from_json(base) if isinstance(base, dict) else None
    except (TypeError, ValueError):
        return True, None


def discard(workdir: Path) -> None:
    """Remove the working database and its bookkeeping (the lock stays: its holder is us)."""
    for child in workdir.iterdir():
        if child.name not in _KEEP and child.is_file():
            child.unlink(missing_ok=True)


def _decide(path: Path, workdir: Path, manifest: Manifest | None) -> Reuse:
    db = workdir / DB_NAME
    if not db.exists():
        return Reuse.FRESH
    current = FileIdentity.of(path)
    dirty, base = _dirty_base(workdir)
    if dirty:
        if base == current:
            return Reuse.RESUME
        log.info("%s: %s changed after the interrupted run's last write; unpacking it afresh", workdir, path.name)
        return Reuse.FRESH
    if manifest is None:
        return Reuse.RESUME  # an interrupted run of a version without markers: resume as before
    if manifest.frames.identity == current and manifest.db == FileIdentity.of(db):
        log.debug("%s: reusing the kept working database (it equals %s)", workdir, path.name)
        return Reuse.CLEAN
    log.info("%s: %s (or its kept working database) changed since the last sync; unpacking it afresh",
             workdir, path.name)
    return Reuse.FRESH


def prepare(path: Path, workdir: Path) -> Start:
    """Decide how this run starts, drop what is unusable, and mark the working copy dirty.

    Called with the work directory locked and before anything writes to it.
    """
    manifest = load_manifest(workdir)
    (workdir / VACUUMED).unlink(missing_ok=True)  # a save's copy that never replaced the database
    reuse = _decide(path, workdir, manifest)
    if reuse is Reuse.FRESH:
        discard(workdir)
    current = FileIdentity.of(path)
    _write_json(workdir / DIRTY, {"c1z": asdict(current) if current is not None else None})
    previous = manifest.frames if manifest is not None and manifest.frames.identity == current else None
    return Start(reuse, previous)


def keep(path: Path, workdir: Path, packed: FrameTable) -> bool:
    """After a successful save and close: make the kept database the one just packed and mark it clean.

    When the save packed a vacuumed copy, that copy becomes the database (the working one still
    holds the dropped rows' bytes in free pages, which must never reach a later pack). Returns
    False, leaving everything dirty, when the ``.c1z`` is not the file that was packed.
    """
    if FileIdentity.of(path) != packed.identity:
        return False
    db = workdir / DB_NAME
    vacuumed = workdir / VACUUMED
    if vacuumed.exists():
        for leftover in (Path(f"{db}-wal"), Path(f"{db}-shm")):
            leftover.unlink(missing_ok=True)
        os.replace(vacuumed, db)
    identity = FileIdentity.of(db)
    if identity is None:
        return False
    _write_json(workdir / MANIFEST, Manifest(identity, packed).to_json())
    (workdir / DIRTY).unlink()
    fsync_dir(workdir)
    return True


__all__ = ["DB_NAME", "Manifest", "Reuse", "Start", "discard", "enabled", "keep", "load_manifest", "prepare"]
