"""Unpacking reserves disk ahead of the data (``posix_fallocate``) and cuts the file back to the data."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
import zstandard

from pybaton.c1z import container
from pybaton.errors import C1ZFormatError


def _packed_db(tmp_path: Path, rows: int) -> tuple[Path, Path]:
    db = tmp_path / "src.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("create table t (id integer primary key, data blob)")
    conn.executemany("insert into t (data) values (?)", ((os.urandom(64) * 4,) for _ in range(rows)))
    conn.commit()
    conn.close()
    packed = tmp_path / "src.c1z"
    container.pack(db, packed)
    return db, packed


@pytest.mark.parametrize("step", [4096, 1 << 16, 64 << 20])
def test_unpacked_file_is_exactly_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    db, packed = _packed_db(tmp_path, 2000)
    monkeypatch.setattr(container, "_RESERVE_STEP", step)  # reserve in several steps, or one past the end
    out = tmp_path / "out.sqlite"
    container.unpack(packed, out)
    assert out.read_bytes() == db.read_bytes()


def test_reservation_stays_within_the_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, packed = _packed_db(tmp_path, 2000)
    size = db.stat().st_size
    reserved: list[int] = []
    real = os.posix_fallocate

    def spy(fd: int, offset: int, length: int) -> None:
        reserved.append(offset + length)
        real(fd, offset, length)

    monkeypatch.setattr(os, "posix_fallocate", spy)
    out = tmp_path / "out.sqlite"
    container.unpack(packed, out, container.DecodeLimits(max_decoded_bytes=size))
    assert reserved and max(reserved) <= size and out.stat().st_size == size
    with pytest.raises(C1ZFormatError, match="exceeds the limit"):
        container.unpack(packed, tmp_path / "capped.sqlite", container.DecodeLimits(max_decoded_bytes=size - 1))


def test_a_file_system_without_fallocate_still_unpacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, packed = _packed_db(tmp_path, 500)

    def unsupported(*_args: int) -> None:
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "posix_fallocate", unsupported)
    out = tmp_path / "out.sqlite"
    container.unpack(packed, out)
    assert out.read_bytes() == db.read_bytes()


@pytest.mark.parametrize("read", [7, 4096, 1 << 20])
def test_frames_split_across_reads_unpack_exactly_and_a_cut_frame_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: int) -> None:
    """Unpacking reads a little at a time: frames that start and end inside one read, or span many, still
    give back exactly the database, and a stream cut inside a frame is still refused."""
    db, _ = _packed_db(tmp_path, 2000)
    data = db.read_bytes()
    half = len(data) // 2
    cctx = zstandard.ZstdCompressor(level=1)
    payload = cctx.compress(data[:half]) + cctx.compress(data[half:])
    monkeypatch.setattr(container, "_UNPACK_READ", read)
    two_frames = tmp_path / "two.c1z"
    two_frames.write_bytes(container.MAGIC_V1 + payload)
    out = tmp_path / "out.sqlite"
    container.unpack(two_frames, out)
    assert out.read_bytes() == data
    cut = tmp_path / "cut.c1z"
    cut.write_bytes(container.MAGIC_V1 + payload[:-10])
    with pytest.raises(C1ZFormatError, match="mid-frame"):
        container.unpack(cut, tmp_path / "cut.sqlite")
