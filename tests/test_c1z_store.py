"""The .c1z store: Go fixtures round-trip, random models round-trip, hostile files fail cleanly."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from google.protobuf import any_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybaton import model
from pybaton.c1z import C1ZFile, DecodeLimits, SyncReader, SyncWriter, copy_run, syncs
from pybaton.c1z.container import MAGIC_V1, pack
from pybaton.errors import C1ZError, C1ZFormatError, SyncNotFoundError

FIXTURES = Path(__file__).parent / "fixtures"
GO_FILES = sorted(p for p in FIXTURES.glob("*.c1z") if p.read_bytes()[:5] == b"C1ZF\x00")


def _all_messages(reader: SyncReader) -> dict[str, list[bytes]]:
    return {
        "resource_types": [m.SerializeToString(deterministic=True) for m in reader.resource_types()],
        "resources": [m.SerializeToString(deterministic=True) for m in reader.resources()],
        "entitlements": [m.SerializeToString(deterministic=True) for m in reader.entitlements()],
        "grants": [m.SerializeToString(deterministic=True) for m in reader.grants()],
    }


def _blobs(c1z: C1ZFile, sync_id: str) -> dict[str, list[bytes]]:
    out = {}
    for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants"):
        out[table] = [row[0] for row in c1z.conn.execute(
            f"select data from {table} where sync_id = ? order by id", (sync_id,))]
    return out


@pytest.mark.parametrize("fixture", GO_FILES, ids=lambda p: p.stem)
def test_go_file_round_trips_through_our_writer(fixture: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.c1z"
    with C1ZFile.open(fixture) as src:
        reader = SyncReader.of(src)
        expected = _all_messages(reader)
        with C1ZFile.create(out) as dst:
            run = syncs.start_run(dst.conn)
            writer = SyncWriter(dst, run.sync_id)
            writer.put_resource_types(reader.resource_types())
            writer.put_resources(reader.resources())
            writer.put_entitlements(reader.entitlements())
            writer.put_grants(reader.grants())
            syncs.end_run(dst.conn, run.sync_id)
            dst.save()
    with C1ZFile.open(out) as again:
        got = _all_messages(SyncReader.of(again))
    # Expandable grants lose their GrantExpandable annotation to the expansion column, as in Go;
    # every other message must come back identical.
    assert {k: len(v) for k, v in got.items()} == {k: len(v) for k, v in expected.items()}
    assert got["resources"] == expected["resources"]
    assert got["entitlements"] == expected["entitlements"]
    assert got["resource_types"] == expected["resource_types"]
    assert got["grants"] == expected["grants"]


@pytest.mark.parametrize("fixture", GO_FILES, ids=lambda p: p.stem)
def test_raw_copy_keeps_every_blob_byte_for_byte(fixture: Path, tmp_path: Path) -> None:
    out = tmp_path / "raw.c1z"
    with C1ZFile.open(fixture) as src:
        runs = [r.sync_id for r in src.sync_runs()]
        with C1ZFile.create(out) as dst:
            for sync_id in runs:
                copy_run(src, dst, sync_id)
            dst.save()
        expected = {sid: _blobs(src, sid) for sid in runs}
    with C1ZFile.open(out) as again:
        assert [r.sync_id for r in again.sync_runs()] == runs
        for sid in runs:
            assert _blobs(again, sid) == expected[sid]


def test_unknown_annotation_types_survive_a_round_trip(tmp_path: Path) -> None:
    future = any_pb2.Any(type_url="type.googleapis.com/c1.connector.v2.SomethingFromTheFuture",
                         value=b"\x0a\x03abc\x10\x07")
    res = model.resource("user", "u1", "User One", traits=[model.user_trait(emails=["a@example.com"])])
    res.annotations.append(future)
    path = _write(tmp_path / "f.c1z", resources=[res])
    with C1ZFile.open(path) as c1z:
        back = SyncReader.of(c1z).resource("user", "u1")
    assert back is not None
    assert back.annotations[-1] == future
    assert back == res


def _write(path: Path, *, resources: list[model.Resource] = (),  # type: ignore[assignment]
           entitlements: list[model.Entitlement] = (),  # type: ignore[assignment]
           grants: list[model.Grant] = (), finish: bool = True) -> Path:  # type: ignore[assignment]
    with C1ZFile.create(path) as c1z:
        run = syncs.start_run(c1z.conn)
        w = SyncWriter(c1z, run.sync_id)
        types = {r.id.resource_type for r in resources}
        w.put_resource_types(model.resource_type(t, t.title()) for t in sorted(types))
        w.put_resources(resources)
        w.put_entitlements(entitlements)
        w.put_grants(grants)
        if finish:
            syncs.end_run(c1z.conn, run.sync_id)
        c1z.save()
    return path


ids = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@st.composite
def access_models(draw: st.DrawFn) -> tuple[list[model.Resource], list[model.Entitlement], list[model.Grant]]:
    user_ids = draw(st.lists(ids, min_size=1, max_size=8, unique=True))
    group_ids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    users = [model.resource("user", u, draw(st.text(max_size=20)),
                            traits=[model.user_trait(emails=[f"{i}@example.com"], login=u,
                                                     status=draw(st.sampled_from(["enabled", "disabled"])))])
             for i, u in enumerate(user_ids)]
    groups = [model.resource("group", g, g, traits=[model.group_trait({"size": len(g)})]) for g in group_ids]
    user_rt = model.resource_type("user", "User", traits=["user"])
    ents = [model.assignment(g, "member", grantable_to=[user_rt]) for g in groups]
    grants = []
    for ent in ents:
        members = draw(st.lists(st.sampled_from(users), max_size=len(users), unique_by=lambda r: r.id.resource))
        grants.extend(model.grant(ent, u) for u in members)
    return users + groups, ents, grants


@given(data=access_models())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_models_round_trip(tmp_path: Path,
                                  data: tuple[list[model.Resource], list[model.Entitlement], list[model.Grant]]
                                  ) -> None:
    resources, ents, grants = data
    path = _write(tmp_path / "h.c1z", resources=resources, entitlements=ents, grants=grants)
    with C1ZFile.open(path) as c1z:
        reader = SyncReader.of(c1z)
        assert list(reader.resources()) == resources
        assert list(reader.entitlements()) == ents
        assert list(reader.grants()) == grants
        for ent in ents:
            expected = [g for g in grants if g.entitlement.id == ent.id]
            assert list(reader.grants(entitlement_id=ent.id)) == expected
    path.unlink()


def test_latest_finished_full_sync_is_the_default_and_sync_id_selects(tmp_path: Path) -> None:
    path = tmp_path / "multi.c1z"
    first = model.resource("user", "a", "A")
    _write(path, resources=[first])
    second = model.resource("user", "b", "B")
    with C1ZFile.open(path, writable=True) as c1z:
        run = syncs.start_run(c1z.conn)
        SyncWriter(c1z, run.sync_id).put_resources([second])
        syncs.end_run(c1z.conn, run.sync_id)
        unfinished = syncs.start_run(c1z.conn)
        SyncWriter(c1z, unfinished.sync_id).put_resources([model.resource("user", "c", "C")])
        c1z.save()
        runs = c1z.sync_runs()
    with C1ZFile.open(path) as c1z:
        assert [r.id.resource for r in SyncReader.of(c1z).resources()] == ["b"]
        assert [r.id.resource for r in SyncReader.of(c1z, runs[0].sync_id).resources()] == ["a"]
        with pytest.raises(SyncNotFoundError):
            SyncReader.of(c1z, "no-such-sync")


def test_save_is_atomic_when_packing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "a.c1z", resources=[model.resource("user", "a", "A")])
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    with C1ZFile.open(path, writable=True) as c1z:
        run = syncs.start_run(c1z.conn)
        SyncWriter(c1z, run.sync_id).put_resources([model.resource("user", "b", "B")])
        monkeypatch.setattr(zstandard.ZstdCompressor, "compress", boom)  # in a packing thread
        with pytest.raises(OSError):
            c1z.save()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.c1z"]


# -- hostile and broken inputs -----------------------------------------------------------------


def _sqlite_payload(tmp_path: Path, statements: list[str]) -> Path:
    db = tmp_path / "payload.sqlite"
    conn = sqlite3.connect(db)
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()
    out = tmp_path / "hostile.c1z"
    pack(db, out)
    return out


def _broken_files(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    good = FIXTURES / "demo-v0.25-sqlite.c1z"
    data = good.read_bytes()
    cases = {
        "empty": (b"", "empty"),
        "garbage": (b"hello world, not a c1z", "not a .c1z"),
        "magic only": (MAGIC_V1, "no data"),
        "truncated": (data[: len(data) // 2], "corrupt or truncated"),
        "not zstd": (MAGIC_V1 + b"\x00" * 64, "corrupt or truncated"),
        "zstd of text": (MAGIC_V1 + zstandard.ZstdCompressor().compress(b"just text" * 100), "not a SQLite"),
        "v3 truncated": ((FIXTURES / "demo-v0.25-pebble.c1z").read_bytes()[:-1], "v3"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.c1z"
        path.write_bytes(content)
        yield name, path, message


def test_broken_files_fail_with_one_clear_line(tmp_path: Path) -> None:
    for name, path, message in _broken_files(tmp_path):
        with pytest.raises(C1ZFormatError) as info:
            C1ZFile.open(path)
        text = str(info.value)
        assert message in text, name
        assert str(path) in text, name
        assert "\n" not in text, name


def test_zip_bomb_stops_at_the_size_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.c1z"
    payload = b"SQLite format 3\x00" + b"\x00" * (64 << 20)
    bomb.write_bytes(MAGIC_V1 + zstandard.ZstdCompressor(level=19).compress(payload))
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(C1ZFormatError, match="exceeds the limit"):
        C1ZFile.open(bomb, limits=DecodeLimits(max_decoded_bytes=8 << 20))


def test_decoder_window_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "wide.c1z"
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
    payload = b"SQLite format 3\x00" + bytes(range(256)) * 4096
    path.write_bytes(MAGIC_V1 + zstandard.ZstdCompressor(compression_params=params).compress(payload))
    with pytest.raises(C1ZFormatError, match="decoder memory"):
        C1ZFile.open(path, limits=DecodeLimits(max_window_bytes=1 << 20))


def test_a_damaged_byte_in_a_file_we_wrote_is_refused_when_unpacked(tmp_path: Path) -> None:
    """Our frames carry zstd's content checksum: flipped bytes mid-file never reach SQLite."""
    good = tmp_path / "good.c1z"
    with C1ZFile.create(good) as c1z:
        run = syncs.start_run(c1z.conn)
        writer = SyncWriter(c1z, run.sync_id)
        user = model.resource_type("user", "User", traits=["user"])
        writer.put_resource_types([user])
        writer.put_resources([model.resource(user, f"u{i}", f"User {i}") for i in range(300)])
        syncs.end_run(c1z.conn, run.sync_id)
        c1z.save()
    data = bytearray(good.read_bytes())
    for offset in (len(data) // 3, len(data) // 2, len(data) - 40):
        damaged = bytearray(data)
        damaged[offset] ^= 0x5A
        bad = tmp_path / f"bad{offset}.c1z"
        bad.write_bytes(bytes(damaged))
        _refused_in_one_line(bad)


def test_a_garbled_schema_that_is_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    """SQLite quotes a damaged schema's bytes back in its message; they need not be UTF-8."""
    garbled = _sqlite_payload(tmp_path, [
        "create table v1_resource_types (id integer primary key, external_id text, data blob, sync_id text, "
        "discovered_at datetime)",
        "pragma writable_schema = on",
        "update sqlite_master set sql = cast(x'637265617465207461626c652081ff28' as text), "
        "name = cast(x'81ff' as text) where name = 'v1_resource_types'",
    ])
    _refused_in_one_line(garbled)


def _refused_in_one_line(path: Path) -> None:
    """Opening ``path`` fails with one line that names the file."""
    with pytest.raises(C1ZFormatError) as info:
        C1ZFile.open(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_databases_with_triggers_or_missing_tables_are_refused(tmp_path: Path) -> None:
    with_trigger = _sqlite_payload(tmp_path, [
        "create table v1_resource_types (id integer primary key, external_id text, data blob, sync_id text, "
        "discovered_at datetime)",
        "create trigger t after insert on v1_resource_types begin delete from v1_resource_types; end",
    ])
    with pytest.raises(C1ZFormatError, match="triggers or views"):
        C1ZFile.open(with_trigger)
    (tmp_path / "payload.sqlite").unlink()
    foreign = _sqlite_payload(tmp_path, ["create table t (x)"])
    with pytest.raises(C1ZFormatError, match="missing"):
        C1ZFile.open(foreign)


def test_corrupt_protobuf_row_names_table_and_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.c1z", resources=[model.resource("user", "a", "A")])
    with C1ZFile.open(path, writable=True) as c1z:
        c1z.conn.execute("update v1_resources set data = x'ffffffff'")
        c1z.save()
    with C1ZFile.open(path) as c1z, pytest.raises(C1ZFormatError, match="v1_resources row"):
        list(SyncReader.of(c1z).resources())


def test_missing_file_and_directory_errors(tmp_path: Path) -> None:
    with pytest.raises(C1ZError, match="no such file"):
        C1ZFile.open(tmp_path / "nope.c1z")
    with pytest.raises(C1ZError, match="directory"):
        C1ZFile.open(tmp_path)


def test_temp_directories_are_removed_on_close_and_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with C1ZFile.open(FIXTURES / "ldap.c1z"):
        assert len(list((tmp_path / "tmp").iterdir())) == 1
    bad = tmp_path / "bad.c1z"
    bad.write_bytes(b"nope")
    with pytest.raises(C1ZFormatError):
        C1ZFile.open(bad)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_read_cache_reuses_the_unpacked_database_until_the_file_changes(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from pybaton.c1z import cache

    monkeypatch.setenv("PYBATON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "MIN_PACKED_SIZE", 0)
    path = _write(tmp_path / "c.c1z", resources=[model.resource("user", "a", "A")])
    with C1ZFile.open(path) as first:
        cached_db = first.db_path
        assert [r.id.resource for r in SyncReader.of(first).resources()] == ["a"]
    assert cached_db.exists()
    with C1ZFile.open(path) as second:
        assert second.db_path == cached_db
    _write(path, resources=[model.resource("user", "b", "B")])
    with C1ZFile.open(path) as third:
        assert third.db_path != cached_db
        assert [r.id.resource for r in SyncReader.of(third).resources()] == ["b"]
    bad = tmp_path / "bad.c1z"
    bad.write_bytes(MAGIC_V1 + b"\x00" * 32)
    with pytest.raises(C1ZFormatError):
        C1ZFile.open(bad)
    assert not list((tmp_path / "cache" / "c1z").glob(".*.tmp"))


def test_saved_files_get_ordinary_permissions(tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        path = _write(tmp_path / "p.c1z", resources=[model.resource("user", "a", "A")])
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_pruning_keeps_the_newest_full_runs_and_their_partials(tmp_path: Path) -> None:
    from pybaton.c1z.merge import prune_runs

    path = tmp_path / "runs.c1z"
    order = []
    with C1ZFile.create(path) as c1z:
        for kind in ("full", "partial", "full", "partial", "full", "partial"):
            run = syncs.start_run(c1z.conn, kind)
            syncs.end_run(c1z.conn, run.sync_id)
            order.append((kind, run.sync_id))
        deleted = prune_runs(c1z, keep=2)
        left = [r.sync_id for r in c1z.sync_runs()]
    # The first full run goes, and so does the partial that ended before the oldest kept full run began.
    assert deleted == 2
    assert left == [sid for _, sid in order[2:]]


def test_an_interrupted_unpack_leaves_no_working_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync killed while unpacking must not leave a half database that the next run would resume from."""
    from pybaton.c1z import container as cont

    real_unpack = cont.unpack

    def half_then_die(path: Path, db_path: Path, limits: DecodeLimits | None = None) -> None:
        real_unpack(path, db_path, limits)
        db_path.write_bytes(db_path.read_bytes()[:4096])
        raise KeyboardInterrupt

    monkeypatch.setattr(cont, "unpack", half_then_die)
    workdir = tmp_path / "work"
    with pytest.raises(KeyboardInterrupt):
        C1ZFile.open(FIXTURES / "ldap.c1z", writable=True, workdir=workdir)
    assert not (workdir / "db.sqlite").exists()
    assert list(workdir.iterdir()) == []
