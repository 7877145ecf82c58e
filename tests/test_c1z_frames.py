"""Chunked packing (``pybaton.c1z.frames``): one zstd frame per database slice, and incremental re-packs.

A packed file must unpack to exactly the database whichever way it was packed (all slices
compressed, or unchanged slices' frames copied from the previous file); a frame is copied
only when the table describes the file it is copied from; a damaged frame is refused.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from pybaton.c1z import container, frames
from pybaton.errors import C1ZError, C1ZFormatError

SLICE = 64 << 10


@pytest.fixture(autouse=True)
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBATON_C1Z_FRAME_BYTES", str(SLICE))  # many frames from a small database


def _database(path: Path, rows: int) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("create table t (id integer primary key, data blob)")
    conn.executemany("insert into t (data) values (?)", ((os.urandom(32) * 8,) for _ in range(rows)))
    conn.commit()
    conn.close()
    return path


def _change_one_row(db: Path, rowid: int) -> None:
    conn = sqlite3.connect(db)
    conn.execute("update t set data = ? where id = ?", (os.urandom(256), rowid))
    conn.commit()
    conn.close()


def _unpacked(packed: Path, where: Path) -> bytes:
    container.unpack(packed, where)
    return where.read_bytes()


def test_a_database_packs_into_one_frame_per_slice_and_unpacks_byte_identical(tmp_path: Path) -> None:
    db = _database(tmp_path / "db.sqlite", 4000)
    packed = tmp_path / "f.c1z"
    table = container.pack(db, packed)
    size = db.stat().st_size
    assert len(table.frames) == -(-size // SLICE) > 1
    assert [f.db_offset for f in table.frames] == list(range(0, size, SLICE))
    data = packed.read_bytes()
    assert data.startswith(container.MAGIC_V1) and table.frames[0].offset == len(container.MAGIC_V1)
    assert table.frames[-1].offset + table.frames[-1].length == len(data)
    assert table.identity == frames.FileIdentity.of(packed)
    assert _unpacked(packed, tmp_path / "out.sqlite") == db.read_bytes()


def test_the_reference_zstd_decoder_reads_the_frames_as_one_stream(tmp_path: Path) -> None:
    """Concatenated frames are one zstd stream to any decoder (RFC 8878), not only to ours."""
    zstd = shutil.which("zstd")
    if zstd is None:
        pytest.skip("the zstd command is not installed")
    db = _database(tmp_path / "db.sqlite", 3000)
    container.pack(db, tmp_path / "f.c1z")
    payload = tmp_path / "payload.zst"
    payload.write_bytes((tmp_path / "f.c1z").read_bytes()[len(container.MAGIC_V1):])
    out = subprocess.run([zstd, "-d", "-c", str(payload)], capture_output=True, check=True).stdout
    assert out == db.read_bytes()


def test_an_incremental_repack_copies_unchanged_frames_and_equals_a_full_pack(tmp_path: Path) -> None:
    db = _database(tmp_path / "db.sqlite", 4000)
    packed = tmp_path / "f.c1z"
    first = container.pack(db, packed)
    _change_one_row(db, 2000)
    again = container.pack(db, packed, previous=first)
    changed = [i for i, (a, b) in enumerate(zip(first.frames, again.frames, strict=True)) if a.digest != b.digest]
    assert 1 <= len(changed) <= 3  # the row's page and page 1 (the change counter)
    unchanged = [i for i in range(len(first.frames)) if i not in changed]
    full = tmp_path / "full.c1z"
    container.pack(db, full)
    full_bytes, again_bytes = full.read_bytes(), packed.read_bytes()
    for i in unchanged:  # copied byte for byte, where a fresh compression puts them too
        f = again.frames[i]
        assert again_bytes[f.offset:f.offset + f.length] == full_bytes[f.offset:f.offset + f.length]
    assert _unpacked(packed, tmp_path / "inc.sqlite") == _unpacked(full, tmp_path / "full.sqlite") == db.read_bytes()


def test_a_table_of_another_file_is_not_used(tmp_path: Path) -> None:
    """A packed file replaced since its table was taken: every slice is compressed afresh."""
    db = _database(tmp_path / "db.sqlite", 2000)
    packed = tmp_path / "f.c1z"
    stale = container.pack(db, packed)
    other = _database(tmp_path / "other.sqlite", 2000)
    container.pack(other, packed)  # a new inode: the stale table's identity no longer matches
    copied: list[bool] = []
    real = frames._Reuse.unchanged

    def spy(self: frames._Reuse, db_offset: int, db_length: int, digest: int) -> bool:
        found = real(self, db_offset, db_length, digest)
        copied.append(found)
        return found

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(frames._Reuse, "unchanged", spy)
        container.pack(db, packed, previous=stale)
    assert copied and not any(copied)
    assert _unpacked(packed, tmp_path / "out.sqlite") == db.read_bytes()


def test_a_frame_whose_checksum_disagrees_with_the_table_is_compressed_instead(tmp_path: Path) -> None:
    db = _database(tmp_path / "db.sqlite", 2000)
    packed = tmp_path / "f.c1z"
    table = container.pack(db, packed)
    lying = frames.FrameTable(table.slice_bytes, tuple(
        frames.Frame(f.db_offset, f.db_length, f.digest, f.offset + 1 if i == 1 else f.offset, f.length)
        for i, f in enumerate(table.frames)), table.identity)
    again = container.pack(db, packed, previous=lying)
    assert _unpacked(packed, tmp_path / "out.sqlite") == db.read_bytes()
    assert [f.digest for f in again.frames] == [f.digest for f in table.frames]


def test_a_damaged_frame_is_refused_in_one_line(tmp_path: Path) -> None:
    db = _database(tmp_path / "db.sqlite", 2000)
    packed = tmp_path / "f.c1z"
    table = container.pack(db, packed)
    data = bytearray(packed.read_bytes())
    middle = table.frames[len(table.frames) // 2]
    data[middle.offset + middle.length // 2] ^= 0xFF
    packed.write_bytes(bytes(data))
    with pytest.raises(C1ZFormatError) as err:
        container.unpack(packed, tmp_path / "out.sqlite")
    assert "\n" not in str(err.value) and str(packed) in str(err.value)
    assert "corrupt" in str(err.value)


def test_a_frame_table_survives_its_json_form(tmp_path: Path) -> None:
    table = container.pack(_database(tmp_path / "db.sqlite", 500), tmp_path / "f.c1z")
    assert frames.FrameTable.from_json(table.to_json()) == table


def test_the_slice_size_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _database(tmp_path / "db.sqlite", 10)
    for raw, message in (("1k", "not a whole number"), ("4096", "at least 65536")):
        monkeypatch.setenv("PYBATON_C1Z_FRAME_BYTES", raw)
        with pytest.raises(C1ZError, match=message):
            container.pack(db, tmp_path / "f.c1z")
    assert not (tmp_path / "f.c1z").exists()
