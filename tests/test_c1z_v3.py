"""The v3 (Pebble) reader on hostile input: every damage gives our one-line error, never another exception.

The Go-written fixtures are damaged at random (hypothesis) at three depths: the
packed file as a whole (caught by the envelope and frame hashes), the payload
files re-packed with valid hashes (so the MANIFEST replay and the table reader
see the damage), and decompressed blocks fed straight to the block decoders.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import sqlite3
import struct
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xxhash
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybaton.c1z import C1ZFile, DecodeLimits, SyncReader, schema
from pybaton.c1z.v3 import colblk, envelope, keys, lsm, store
from pybaton.c1z.v3.merge import visible
from pybaton.c1z.v3.sstable import RangeTombstone, Table, decode_range_deletions
from pybaton.c1z.v3.wire import Corrupt, masked_crc32c
from pybaton.cli.main import run
from pybaton.errors import C1ZError, C1ZFormatError
from pybaton.pb.c1.c1z.v3 import manifest_pb2
from pybaton.pb.c1.storage.v3 import records_pb2

FIXTURES = Path(__file__).parent / "fixtures"
V3_FILES = [FIXTURES / "demo-v0.25-pebble.c1z", FIXTURES / "ldap-v3.c1z"]
SLOW = 20.0  # seconds: far above a normal open (~0.05 s), far below a hang


# -- helpers: take a fixture apart and put it back together -----------------------------------------


def split_envelope(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """The manifest bytes and every payload file of an INDEXED_ZSTD fixture."""
    length = struct.unpack(">I", data[5:9])[0]
    manifest = data[9:9 + length]
    offset, size = struct.unpack(">QI", data[-28:-16])
    index = manifest_pb2.IndexedFrameIndex.FromString(data[offset:offset + size])
    files = {}
    for entry in index.entries:
        frame = data[entry.frame_offset:entry.frame_offset + entry.compressed_size]
        files[entry.name] = zstandard.ZstdDecompressor().decompressobj().decompress(frame)
    return manifest, files


def build_envelope(manifest: bytes, files: dict[str, bytes]) -> bytes:
    """An INDEXED_ZSTD envelope with valid hashes (Baton's layout), for damage below the hashes."""
    out = bytearray(b"C1Z3\x00" + struct.pack(">I", len(manifest)) + manifest)
    index = manifest_pb2.IndexedFrameIndex(manifest_xxh64=xxhash.xxh64_intdigest(manifest))
    cctx = zstandard.ZstdCompressor()
    for name, raw in sorted(files.items()):
        frame = cctx.compress(raw)
        index.entries.add(name=name, frame_offset=len(out), compressed_size=len(frame), raw_size=len(raw),
                          raw_xxh64=xxhash.xxh64_intdigest(raw), raw_sha256=hashlib.sha256(raw).digest())
        out += frame
    raw_index = index.SerializeToString()
    footer = struct.pack(">QIQ", len(out), len(raw_index), xxhash.xxh64_intdigest(raw_index)) + b"C1ZIDX1\x00"
    return bytes(out + raw_index + footer)


def build_tar_envelope(manifest: bytes, files: dict[str, bytes], *, compressed: bool) -> bytes:
    """The same payload in the TAR_ZSTD or TAR encoding (the manifest says which)."""
    parsed = manifest_pb2.C1ZManifestV3.FromString(manifest)
    parsed.payload_encoding = (manifest_pb2.PAYLOAD_ENCODING_TAR_ZSTD if compressed
                               else manifest_pb2.PAYLOAD_ENCODING_TAR)
    head = parsed.SerializeToString()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, raw in sorted(files.items()):
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    payload = buffer.getvalue()
    if compressed:
        payload = zstandard.ZstdCompressor().compress(payload)
    return b"C1Z3\x00" + struct.pack(">I", len(head)) + head + payload


def read_everything(path: Path) -> int:
    """Open ``path`` and read every object; return how many there were."""
    with C1ZFile.open(path) as c1z:
        reader = SyncReader.of(c1z)
        count = len(reader.resource_types())
        count += sum(1 for _ in reader.resources())
        count += sum(1 for _ in reader.entitlements())
        count += sum(1 for _ in reader.grants())
        reader.stats()
        return count


def assert_clean_outcome(path: Path) -> None:
    """Either the damaged file still reads, or it fails with one line naming the file."""
    started = time.monotonic()
    try:
        read_everything(path)
    except C1ZError as exc:
        text = str(exc)
        assert "\n" not in text and str(path) in text, text
    assert time.monotonic() - started < SLOW


@pytest.fixture(autouse=True)
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBATON_C1Z_CACHE", "0")


# -- the fixtures re-packed by our test writer still read (the helpers are right) --------------------


@pytest.mark.parametrize("fixture", V3_FILES, ids=lambda p: p.stem)
def test_repacked_fixture_reads_the_same(fixture: Path, tmp_path: Path) -> None:
    manifest, files = split_envelope(fixture.read_bytes())
    repacked = tmp_path / "repacked.c1z"
    repacked.write_bytes(build_envelope(manifest, files))
    assert read_everything(repacked) == read_everything(fixture) > 0


@pytest.mark.parametrize("compressed", [True, False], ids=["tar-zstd", "tar"])
def test_tar_payload_encodings_read_the_same(compressed: bool, tmp_path: Path) -> None:
    fixture = V3_FILES[1]
    manifest, files = split_envelope(fixture.read_bytes())
    path = tmp_path / "tar.c1z"
    path.write_bytes(build_tar_envelope(manifest, files, compressed=compressed))
    assert read_everything(path) == read_everything(fixture)
    with C1ZFile.open(path) as c1z:
        assert sum(1 for _ in SyncReader.of(c1z).grants()) == 21


def test_tar_payload_refuses_links_and_paths(tmp_path: Path) -> None:
    manifest, files = split_envelope(V3_FILES[0].read_bytes())
    _open_error(tmp_path, build_tar_envelope(manifest, {**files, "../escape": b"x"}, compressed=True), "unsafe name")
    parsed = manifest_pb2.C1ZManifestV3.FromString(manifest)
    parsed.payload_encoding = manifest_pb2.PAYLOAD_ENCODING_TAR
    head = parsed.SerializeToString()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("MANIFEST-000001")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    _open_error(tmp_path, b"C1Z3\x00" + struct.pack(">I", len(head)) + head + buffer.getvalue(), "link")


# -- random damage -------------------------------------------------------------------------------------

damage = st.tuples(st.sampled_from(["flip", "truncate", "overwrite", "insert"]),
                   st.floats(min_value=0, max_value=1, exclude_max=True),
                   st.binary(min_size=1, max_size=16))


def apply_damage(data: bytes, how: tuple[str, float, bytes]) -> bytes:
    kind, where, noise = how
    at = int(where * len(data))
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (noise[0] or 1)]) + data[at + 1:]
    if kind == "truncate":
        return data[:at]
    if kind == "overwrite":
        return data[:at] + noise + data[at + len(noise):]
    return data[:at] + noise + data[at:]


@given(fixture=st.sampled_from(V3_FILES), how=damage)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_damaged_file_gives_our_error(tmp_path: Path, fixture: Path, how: tuple[str, float, bytes]) -> None:
    path = tmp_path / "damaged.c1z"
    path.write_bytes(apply_damage(fixture.read_bytes(), how))
    assert_clean_outcome(path)


@given(fixture=st.sampled_from(V3_FILES), target=st.sampled_from(["MANIFEST", "sst", "manifest"]), how=damage)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_damaged_payload_with_valid_hashes_gives_our_error(tmp_path: Path, fixture: Path, target: str,
                                                           how: tuple[str, float, bytes]) -> None:
    """Damage inside the payload files (or the manifest), re-packed so the envelope hashes match."""
    manifest, files = split_envelope(fixture.read_bytes())
    if target == "manifest":
        manifest = apply_damage(manifest, how)
    else:
        names = sorted(n for n in files if (n.startswith("MANIFEST") if target == "MANIFEST" else n.endswith(".sst")))
        name = names[int(how[1] * len(names))]
        files[name] = apply_damage(files[name], how)
    path = tmp_path / "damaged.c1z"
    path.write_bytes(build_envelope(manifest, files))
    assert_clean_outcome(path)


@given(how=damage)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_damaged_tar_payload_gives_our_error(tmp_path: Path, how: tuple[str, float, bytes]) -> None:
    manifest, files = split_envelope(V3_FILES[0].read_bytes())
    path = tmp_path / "damaged.c1z"
    path.write_bytes(apply_damage(build_tar_envelope(manifest, files, compressed=True), how))
    assert_clean_outcome(path)


def _data_blocks() -> list[bytes]:
    """Decompressed data blocks of the fixtures' tables (the decoders' real input)."""
    blocks: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        for fixture in V3_FILES:
            _, files = split_envelope(fixture.read_bytes())
            for name, raw in files.items():
                if name.endswith(".sst"):
                    path = Path(tmp) / f"{fixture.stem}-{name}"
                    path.write_bytes(raw)
                    table = Table(path, name, 1 << 26)
                    blocks.extend(table.read_block(h, "data") for h in table._data_handles())
                    table.close()
    return blocks


DATA_BLOCKS = _data_blocks()


@given(index=st.integers(min_value=0, max_value=len(DATA_BLOCKS) - 1), how=damage)
@settings(max_examples=300, deadline=None)
def test_damaged_block_decodes_or_raises_corrupt(index: int, how: tuple[str, float, bytes]) -> None:
    block = apply_damage(DATA_BLOCKS[index], how)
    with contextlib.suppress(Corrupt):
        parsed = colblk.Block.parse(block, 4)
        parsed.prefix_bytes(0)
        parsed.raw_bytes(1)
        parsed.uints(2)
        parsed.bitmap(3)
        parsed.raw_bytes(4)
        parsed.bitmap(5)


@given(data=st.binary(max_size=4096))
@settings(max_examples=200, deadline=None)
def test_random_manifest_log_replays_or_raises_corrupt(data: bytes) -> None:
    with contextlib.suppress(Corrupt):
        lsm.replay(data)


# -- named hostile cases -------------------------------------------------------------------------------


def _open_error(tmp_path: Path, content: bytes, *needles: str) -> str:
    path = tmp_path / "hostile.c1z"
    path.write_bytes(content)
    with pytest.raises(C1ZFormatError) as info:
        read_everything(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text
    for needle in needles:
        assert needle in text, text
    return text


def test_named_hostile_envelopes(tmp_path: Path) -> None:
    good = V3_FILES[0].read_bytes()
    manifest, files = split_envelope(good)
    parsed = manifest_pb2.C1ZManifestV3.FromString(manifest)
    _open_error(tmp_path, good[:7], "v3", "truncated")
    _open_error(tmp_path, good[:5] + b"\xff\xff\xff\xff" + good[9:], "manifest length")
    other_engine = manifest_pb2.C1ZManifestV3()
    other_engine.CopyFrom(parsed)
    other_engine.engine = "sled"
    _open_error(tmp_path, build_envelope(other_engine.SerializeToString(), files), "unknown storage engine")
    other_encoding = manifest_pb2.C1ZManifestV3()
    other_encoding.CopyFrom(parsed)
    other_encoding.payload_encoding = 1  # type: ignore[assignment]
    _open_error(tmp_path, build_envelope(other_encoding.SerializeToString(), files), "payload encoding")
    _open_error(tmp_path, good[:-1] + b"\x01", "index footer")
    bad_index = bytearray(good)
    offset = struct.unpack(">Q", good[-28:-20])[0]
    bad_index[offset + 3] ^= 0x40
    _open_error(tmp_path, bytes(bad_index), "index checksum")
    bad_frame = bytearray(good)
    bad_frame[len(manifest) + 40] ^= 0x01
    _open_error(tmp_path, bytes(bad_frame), "v3")


def test_missing_and_dangling_manifest_references(tmp_path: Path) -> None:
    manifest, files = split_envelope(V3_FILES[0].read_bytes())
    no_manifest = {n: v for n, v in files.items() if not n.startswith("MANIFEST")}
    _open_error(tmp_path, build_envelope(manifest, no_manifest), "MANIFEST-000001")
    no_table = {n: v for n, v in files.items() if n != "000006.sst"}
    _open_error(tmp_path, build_envelope(manifest, no_table), "000006.sst")


def test_block_outside_the_file(tmp_path: Path) -> None:
    manifest, files = split_envelope(V3_FILES[0].read_bytes())
    table = bytearray(files["000006.sst"])
    # The footer's metaindex handle: point it past the end of the table (footer checksum recomputed).
    footer_at = len(table) - 61
    table[footer_at + 1:footer_at + 5] = b"\xff\xff\xff\x0f"
    footer = bytes(table[footer_at:])
    struct.pack_into("<I", table, footer_at + 45, masked_crc32c(footer[:45], footer[49:]))
    files["000006.sst"] = bytes(table)
    _open_error(tmp_path, build_envelope(manifest, files), "000006.sst")


def test_decompression_bomb_stops_at_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest, files = split_envelope(V3_FILES[0].read_bytes())
    files["OPTIONS-000003"] = b"\x00" * (8 << 20)
    monkeypatch.setenv("PYBATON_C1Z_MAX_DECODED_BYTES", str(1 << 20))
    _open_error(tmp_path, build_envelope(manifest, files), "PYBATON_C1Z_MAX_DECODED_BYTES")
    assert DecodeLimits.from_env().max_decoded_bytes == 1 << 20


def test_unknown_key_types_are_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A key type this reader does not know (a newer SDK's) is skipped with one warning, not fatal."""
    good = V3_FILES[0]
    manifest = envelope.read_envelope(good.open("rb"), good.stat().st_size).manifest
    sync_id = manifest.sync_runs[0].sync_id
    entries = [(keys.record_key(0x42, [b"future"]), b"x"), (keys.record_key(0x42, [b"other"]), b"y")]
    db = tmp_path / "db.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    schema.create(conn)
    c1z = C1ZFile(good, db, conn, writable=True, workdir=tmp_path, owns_workdir=False)
    with caplog.at_level(logging.WARNING):
        store._Loader(c1z, manifest).load(iter(entries))
    warnings = [r for r in caplog.records if "unknown type 0x42" in r.getMessage()]
    assert len(warnings) == 1
    assert conn.execute("select sync_id from v1_sync_runs").fetchall() == [(sync_id,)]
    conn.close()


def test_key_tuple_escapes_round_trip() -> None:
    parts = [b"group", b"a\x00b\x01c", b"", b"\x01\x00"]
    encoded = keys.encode_tuple(parts)
    assert b"\x00\x00" not in encoded.replace(b"\x00\x00", b"")  # separators are single bytes
    assert keys.decode_tuple(encoded) == parts
    with pytest.raises(Corrupt):
        keys.decode_tuple(b"abc\x01\x07")


def test_cli_damaged_v3_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cut.c1z"
    path.write_bytes(V3_FILES[1].read_bytes()[:20000])
    assert run(["-f", str(path), "grants"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "cut.c1z" in err[0] and "Traceback" not in err[0]


# -- convert and diff ------------------------------------------------------------------------------------


def _cli_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> object:
    capsys.readouterr()
    assert run([str(a) for a in args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", ["demo-v0.25-pebble", "ldap-v3", "ldap"])
def test_converted_file_lists_like_go(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``convert`` writes a v1 file whose listings equal Go's listings of the original."""
    out = tmp_path / "converted.c1z"
    capsys.readouterr()
    assert run(["convert", str(FIXTURES / f"{name}.c1z"), str(out)]) == 0
    assert out.read_bytes()[:5] == b"C1ZF\x00"
    for command in ("resource-types", "resources", "entitlements", "grants", "principals", "stats", "syncs"):
        expected = json.loads((FIXTURES / f"{name}.{command}.json").read_text())
        assert _cli_json(capsys, "-f", out, "-o", "json", command) == expected, command
    with C1ZFile.open(out) as converted, C1ZFile.open(FIXTURES / f"{name}.c1z") as original:
        assert converted.sync_runs() == original.sync_runs()
        columns = [row[1] for row in converted.conn.execute("pragma table_info(v1_sync_runs)")]
        row = dict(zip(columns, converted.conn.execute("select * from v1_sync_runs").fetchone(), strict=True))
        assert row["supports_diff"] == 1 and row["stats"] and row["ingest_invariant_mode"] in ("", "connector")


def test_convert_refuses_to_overwrite_and_writes_nothing_on_error(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.c1z"
    out.write_bytes(b"keep me")
    assert run(["convert", str(V3_FILES[0]), str(out)]) == 1
    assert out.read_bytes() == b"keep me"
    assert run(["convert", "--force", str(V3_FILES[0]), str(out)]) == 0
    damaged = tmp_path / "damaged.c1z"
    damaged.write_bytes(V3_FILES[0].read_bytes()[:-5])
    target = tmp_path / "never.c1z"
    assert run(["convert", str(damaged), str(target)]) == 1
    assert not target.exists()
    assert set(tmp_path.iterdir()) == {out, damaged}


def _by_id(objects: list[Any]) -> dict[str, Any]:
    """Objects by id (a resource's id is ``type:id``, as the diff matches them)."""
    out = {}
    for obj in objects:
        ident = obj["id"]
        out[f"{ident['resourceType']}:{ident['resource']}" if isinstance(ident, dict) else ident] = obj
    return out


def test_diff_between_v1_and_v3_files_matches_the_go_listings(capsys: pytest.CaptureFixture[str]) -> None:
    """The same directory synced to v1 and to v3: the diff reports exactly the objects whose Go listings differ."""
    diff = _cli_json(capsys, "-f", FIXTURES / "ldap-v3.c1z", "-o", "json", "diff",
                     "--from-file", FIXTURES / "ldap.c1z")
    assert isinstance(diff, dict)
    for kind, key in (("resources", "resource"), ("entitlements", "entitlement"), ("grants", "grant")):
        old = _by_id([row[key] for row in json.loads((FIXTURES / f"ldap.{kind}.json").read_text())[kind]])
        new = _by_id([row[key] for row in json.loads((FIXTURES / f"ldap-v3.{kind}.json").read_text())[kind]])
        assert set(old) == set(new)
        expected_modified = {i for i in old if old[i] != new[i]}
        reported = diff.get(kind, {})
        assert set(reported) <= {"modified"}, kind
        assert set(_by_id(reported.get("modified", []))) == expected_modified, kind
        assert expected_modified, kind  # the two Go files differ, so the check above is not vacuous


# -- the analysis commands: the same directory synced to v1 and to v3 gives the same answers -------------


def test_access_explain_export_summary_agree_between_v1_and_v3(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    v1, v3 = FIXTURES / "ldap.c1z", FIXTURES / "ldap-v3.c1z"
    users = [r["resource"]["id"]["resource"] for r in json.loads((FIXTURES / "ldap-v3.resources.json").read_text())
             ["resources"] if r["resource"]["id"]["resourceType"] == "user"]
    assert len(users) == 10

    def held(path: Path, user: str) -> list[str]:
        out = _cli_json(capsys, "-f", path, "-o", "json", "access", "-p", f"user:{user}")
        assert isinstance(out, dict)
        return sorted(e["id"] for row in out.get("access", []) for e in row["entitlements"])

    def paths(path: Path, entitlement: str, user: str) -> Any:
        out = _cli_json(capsys, "-f", path, "-o", "json", "explain", "-e", entitlement, "-p", f"user:{user}")
        assert isinstance(out, dict)
        return out.get("paths")

    nested = 0
    for user in users:
        entitlements = held(v3, user)
        assert entitlements == held(v1, user), user
        for entitlement in entitlements:
            found = paths(v3, entitlement, user)
            assert found == paths(v1, entitlement, user), (user, entitlement)
            nested += any(len(p) > 1 for p in found)
    assert nested  # the nested platform → engineering group is explained through its path
    exported = []
    for path in (v1, v3):
        out = tmp_path / f"{path.stem}.jsonl"
        assert run(["-f", str(path), "export", "--format", "jsonl", "--out", str(out)]) == 0
        exported.append(sorted(out.read_text().splitlines()))
    assert exported[0] == exported[1] and len(exported[0]) == 46
    capsys.readouterr()
    assert run(["-f", str(v3), "summary"]) == 0
    summary = capsys.readouterr().out
    assert "3N0xRS0PRq1Enks3Y1dHqg5QrKu" in summary and "Group" in summary


# -- merging: sequence numbers, point and range deletions, virtual tables ---------------------------------


class _Column:
    """A test-side columnar encoder: just enough to build keyspan blocks the way Pebble lays them out."""

    def __init__(self, custom_header: bytes, columns: list[tuple[int, list[Any]]], rows: int) -> None:
        self.custom_header, self.columns, self.rows = custom_header, columns, rows

    def encode(self) -> bytes:
        header_len = len(self.custom_header) + 7 + 5 * len(self.columns)
        body = bytearray(b"\x00" * header_len)
        body[:len(self.custom_header)] = self.custom_header
        base = len(self.custom_header)
        body[base] = 1
        struct.pack_into("<HI", body, base + 1, len(self.columns), self.rows)
        for i, (kind, values) in enumerate(self.columns):
            struct.pack_into("<BI", body, base + 7 + 5 * i, kind, len(body))
            if kind == colblk.TYPE_UINT:
                self._uints(body, values)
            else:
                offsets = [0]
                for v in values:
                    offsets.append(offsets[-1] + len(v))
                self._uints(body, offsets)
                body += b"".join(values)
        return bytes(body + b"\x00")

    @staticmethod
    def _uints(body: bytearray, values: list[int]) -> None:
        if not values:
            return
        width = 8 if max(values) > 0xFFFF else 2 if max(values) > 0xFF else 1
        body.append(width)
        while len(body) % width:
            body.append(0)
        body += struct.pack(f"<{len(values)}{ {1: 'B', 2: 'H', 8: 'Q'}[width]}", *values)


def test_range_deletion_block_decodes_fragments() -> None:
    # Fragments a-b:{#9}, b-d:{#12, #9}, f-g:{#3}: boundaries a b d f g, start indexes 0 1 3 3 4.
    trailers = [9 << 8 | 15, 12 << 8 | 15, 9 << 8 | 15, 3 << 8 | 15]
    boundaries = [b"a", b"b", b"d", b"f", b"g"]

    def block(starts: list[int]) -> bytes:
        return _Column(struct.pack("<I", len(boundaries)), [
            (colblk.TYPE_BYTES, boundaries), (colblk.TYPE_UINT, starts), (colblk.TYPE_UINT, trailers),
            (colblk.TYPE_BYTES, [b""] * 4), (colblk.TYPE_BYTES, [b""] * 4)], rows=4).encode()

    spans = decode_range_deletions(block([0, 1, 3, 3, 4]))
    assert [(t.start, t.end, t.seq) for t in spans] == [
        (b"a", b"b", 9), (b"b", b"d", 12), (b"b", b"d", 9), (b"f", b"g", 3)]
    with pytest.raises(Corrupt, match="out of order"):
        decode_range_deletions(block([0, 3, 1, 3, 9]))
    with pytest.raises(Corrupt):
        decode_range_deletions(block([0, 1, 3, 3, 4])[:40])


class _FakeTable:
    """Entries and tombstones as a Pebble table yields them (merging is pure logic over those)."""

    def __init__(self, entries: list[tuple[bytes, int, int, bytes]], tombstones: list[RangeTombstone]) -> None:
        self._entries = sorted((k, -s, kind, v) for k, s, kind, v in entries)
        self._tombstones = tombstones

    def entries(self, low: bytes = b"", high: bytes | None = None) -> Iterator[tuple[bytes, int, int, bytes]]:
        return iter(self._entries)

    def range_tombstones(self) -> list[RangeTombstone]:
        return self._tombstones


def _live(level: int, virtual: bool = False, low: bytes = b"", high: bytes = b"") -> lsm.LiveTable:
    return lsm.LiveTable(level, 1, 0, 0, 1, low, high, False, virtual)


def test_merge_newest_wins_and_deletions_hide() -> None:
    SET, DEL = 1, 0
    newer = _FakeTable([(b"a", 20, SET, b"a2"), (b"b", 21, DEL, b""), (b"d", 22, SET, b"d2")],
                       [RangeTombstone(b"e", b"g", 30)])
    older = _FakeTable([(b"a", 5, SET, b"a1"), (b"b", 6, SET, b"b1"), (b"c", 7, SET, b"c1"),
                        (b"e", 8, SET, b"e1"), (b"f", 31, SET, b"f-after-delete"), (b"g", 9, SET, b"g1")], [])
    tables: Any = [(newer, _live(0)), (older, _live(6))]
    assert list(visible(tables)) == [(b"a", b"a2"), (b"c", b"c1"), (b"d", b"d2"), (b"f", b"f-after-delete"),
                                     (b"g", b"g1")]


def test_merge_virtual_table_shows_only_its_bounds() -> None:
    backing = _FakeTable([(b"a", 1, 1, b"x"), (b"m", 1, 1, b"y"), (b"z", 1, 1, b"w")], [])
    tables: Any = [(backing, _live(0, virtual=True, low=b"b", high=b"m"))]
    assert list(visible(tables)) == [(b"m", b"y")]


def test_v3_files_use_the_read_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Materializing costs about a second per packed MB, so v3 files are cached from a smaller size."""
    from pybaton.c1z import cache

    monkeypatch.setenv("PYBATON_C1Z_CACHE", "1")
    monkeypatch.setenv("PYBATON_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "v3.c1z"
    path.write_bytes(V3_FILES[1].read_bytes())
    assert cache.key_for(path) is None  # 39 KB: below the v3 threshold
    monkeypatch.setattr(cache, "MIN_PACKED_SIZE_V3", 1 << 10)
    with C1ZFile.open(path) as first:
        cached = first.db_path
        assert cached.parent == tmp_path / "cache" / "c1z"
    with C1ZFile.open(path) as second:
        assert second.db_path == cached
        assert read_everything(path) == read_everything(V3_FILES[1])


def test_rows_follow_the_sync_run_record_when_the_manifest_disagrees(tmp_path: Path) -> None:
    """Rows stream out under the manifest's sync id; a sync run record naming another id re-keys them."""
    good = V3_FILES[0]
    manifest = envelope.read_envelope(good.open("rb"), good.stat().st_size).manifest
    resource = records_pb2.ResourceRecord(resource_type_id="user", resource_id="u1", display_name="U")
    run_record = records_pb2.SyncRunRecord(sync_id="OTHER-SYNC", type=records_pb2.SYNC_TYPE_FULL)
    run_record.started_at.seconds = 1_700_000_000
    run_record.ended_at.seconds = 1_700_000_100
    entries = [(keys.record_key(keys.RESOURCE, [b"user", b"u1"]), resource.SerializeToString()),
               (bytes([keys.KEY_VERSION, keys.SYNC_RUN]), run_record.SerializeToString())]
    db = tmp_path / "db.sqlite"
    conn = sqlite3.connect(db, isolation_level=None)
    schema.create(conn)
    c1z = C1ZFile(good, db, conn, writable=True, workdir=tmp_path, owns_workdir=False)
    store._Loader(c1z, manifest).load(iter(entries))
    assert conn.execute("select sync_id, external_id from v1_resources").fetchall() == [("OTHER-SYNC", "user:u1")]
    assert conn.execute("select sync_id, started_at, ended_at from v1_sync_runs").fetchall() == [
        ("OTHER-SYNC", "2023-11-14 22:13:20.000000000", "2023-11-14 22:15:00.000000000")]
    conn.close()
