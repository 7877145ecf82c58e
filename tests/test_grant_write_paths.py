"""The fast grant write paths produce exactly what the plain ones do.

- ``GrantColumns`` reads a grant's id columns from its wire bytes (learning each entitlement and
  principal field once): the columns must equal the ones read field by field, for any grant.
- A bulk load into a throw-away file goes through the grant loader (a helper process); the file
  must hold the same rows, indexes and listings as one written in-process, and as one written
  with per-grant upserts read field by field (the path before these optimizations).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader, SyncWriter, loader, schema, syncs
from pybaton.c1z import writer as writer_mod
from pybaton.errors import C1ZError
from pybaton.model import builders
from pybaton.pb.c1.connector.v2 import grant_pb2, resource_pb2

# Short and long (a multi-byte length prefix from 128 bytes on), any Unicode.
ids = st.text(max_size=30) | st.text(min_size=100, max_size=300)


def _field_by_field(grant: grant_pb2.Grant) -> tuple[Any, ...]:
    return writer_mod._read_grant_row(grant, grant.SerializeToString(), "s", "n")[:6]


@st.composite
def grants(draw: st.DrawFn) -> grant_pb2.Grant:
    ent = model.entitlement_ref(model.resource_id(draw(ids), draw(ids)), draw(ids))
    ptype, pid = draw(ids), draw(ids)
    if draw(st.booleans()):  # as model.grant builds it
        principal: resource_pb2.Resource | resource_pb2.ResourceId = model.resource_id(ptype, pid)
        if draw(st.booleans()):
            principal = model.resource(ptype, pid, draw(ids))
        built = model.grant(ent, principal, expandable=draw(st.lists(ids, max_size=2)))
        return built
    # By hand, any field possibly left empty (then it is not on the wire at all).
    grant = grant_pb2.Grant(id=draw(ids))
    if draw(st.booleans()):
        grant.entitlement.CopyFrom(ent)
    if draw(st.booleans()):
        grant.principal.id.CopyFrom(model.resource_id(ptype, pid))
        grant.principal.display_name = draw(ids)
    return grant


@settings(max_examples=300, deadline=None)
@given(st.lists(grants(), min_size=1, max_size=6), st.booleans())
def test_columns_from_bytes_equal_the_fields(batch: list[grant_pb2.Grant], with_message: bool) -> None:
    builders.clear_caches()
    columns = writer_mod.GrantColumns()
    for grant in batch * 2:  # the second round reads learned fields
        data = grant.SerializeToString()
        ids_read = columns.ids(data, grant if with_message else None)
        # Read from the bytes exactly when the grant is those three fields and nothing else.
        three_fields = bool(grant.id) and grant.HasField("entitlement") and grant.HasField("principal") \
            and not grant.annotations and not grant.HasField("sources")
        assert (ids_read is not None) == three_fields
        if ids_read is not None:
            assert ids_read == _field_by_field(grant)
        row = writer_mod.row_from_bytes(data, "s", "n", columns)
        assert row == writer_mod._read_grant_row(grant, data, "s", "n")


_TABLE = ("create table v1_grants (id integer primary key, resource_type_id text, resource_id text, "
          "entitlement_id text, principal_resource_type_id text, principal_resource_id text, external_id text, "
          "expansion blob, needs_expansion integer, data blob, sync_id text, discovered_at text)")


def _table_after(insert: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(":memory:")
    conn.execute(_TABLE)
    insert(conn)
    rows = conn.execute("select *, typeof(sync_id), typeof(discovered_at) from v1_grants order by id").fetchall()
    conn.close()
    return rows


@settings(max_examples=200, deadline=None)
@given(st.lists(grants(), min_size=1, max_size=8), st.integers(1, 80), ids, ids)
def test_serialized_inserts_equal_the_full_rows(batch: list[grant_pb2.Grant], repeat: int, sync_id: str,
                                                now: str) -> None:
    """The loader's insert (plain grants many rows a statement, run id and time bound once, other grants
    one full row in their place) stores exactly the rows row_from_bytes gives, in the same order."""
    builders.clear_caches()
    data = [g.SerializeToString() for g in batch] * repeat  # from 1 to 640 rows: blocks, tails, mixes
    expected = _table_after(lambda conn: conn.executemany(writer_mod.INSERT_GRANT, [
        writer_mod.row_from_bytes(d, sync_id, now, writer_mod.GrantColumns()) for d in data]))
    got = _table_after(lambda conn: writer_mod.insert_serialized(conn, data, sync_id, now, writer_mod.GrantColumns()))
    assert got == expected


def test_model_grant_bytes_are_protobufs_own_serialization() -> None:
    """What model.grant parses is byte for byte what protobuf serializes for the same message."""
    builders.clear_caches()
    ent = model.assignment(model.resource("group", "g" * 200, "Group"), "member")
    for principal in (model.resource("user", "u1", "U"), model.resource_id("user", "ü" * 90)):
        built = model.grant(ent, principal)
        pid = principal.id if isinstance(principal, resource_pb2.Resource) else principal
        reference = grant_pb2.Grant(
            id=model.grant_id(ent.id, pid.resource_type, pid.resource),
            entitlement=model.entitlement_ref(ent.resource, "member"), principal=resource_pb2.Resource(id=pid))
        assert built.SerializeToString() == reference.SerializeToString()


# -- whole files --------------------------------------------------------------------------------

def _world() -> tuple[list[Any], list[Any], list[Any], list[grant_pb2.Grant]]:
    user_rt = model.resource_type("user", "User", traits=["user"])
    group_rt = model.resource_type("group", "Group", traits=["group"])
    users = [model.resource(user_rt, f"u{i}", f"User {i}") for i in range(40)]
    groups = [model.resource(group_rt, f"g{i}", f"Group {i}") for i in range(6)]
    ents = [model.assignment(g, "member", grantable_to=[user_rt]) for g in groups]
    grants = [model.grant(ent, users[(gi * 7 + k * 3) % len(users)]) for gi, ent in enumerate(ents) for k in range(25)]
    grants.append(model.grant(ents[0], groups[1], expandable=[ents[1].id]))  # expansion column
    grants.append(model.grant(ents[2], users[0]))  # a grant id written twice: the last row wins
    return [user_rt, group_rt], [*users, *groups], ents, grants


def _write(path: Path, *, bulk: bool, workdir: Path | None = None, batch: int = 40) -> None:
    rts, resources, ents, grants = _world()
    with C1ZFile.create(path, workdir=workdir) as c1z:
        run = syncs.start_run(c1z.conn)
        w = SyncWriter(c1z, run.sync_id)
        w.put_resource_types(rts)
        w.put_resources(resources)
        w.put_entitlements(ents)
        if bulk:
            w.begin_bulk_grants()
            for i in range(0, len(grants), batch):
                w.put_grants(grants[i:i + batch])
            w.end_bulk_grants()
        else:  # the plain path: per-grant upserts of rows read field by field
            now = syncs.now_text()
            w.put_grant_rows([writer_mod._read_grant_row(g, g.SerializeToString(), run.sync_id, now) for g in grants])
        syncs.end_run(c1z.conn, run.sync_id)
        c1z.save()


def _contents(path: Path) -> dict[str, Any]:
    with C1ZFile.open(path) as c1z:
        reader = SyncReader.of(c1z)
        rows = c1z.conn.execute(
            "select id, resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
            "principal_resource_id, external_id, expansion, needs_expansion, data from v1_grants order by id").fetchall()
        indexes = c1z.conn.execute("select name, sql from sqlite_master where type = 'index' order by name").fetchall()
        stats = reader.stats()
        return {"rows": rows, "indexes": indexes, "stats": {k: v for k, v in stats.items() if "time" not in k},
                "grants": [g.SerializeToString() for g in reader.grants()],
                "by_entitlement": [g.id for g in reader.grants(entitlement_id="group:g2:member")]}


def test_loader_file_equals_in_process_and_field_by_field_files(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Path] = []
    real_init = loader.GrantLoader.__init__

    def spy(self: loader.GrantLoader, db_path: Path, path: Path) -> None:
        started.append(path)
        real_init(self, db_path, path)

    monkeypatch.setattr(loader.GrantLoader, "__init__", spy)
    _write(tmp_path / "loader.c1z", bulk=True)
    assert started == [tmp_path / "loader.c1z"]  # one helper for the whole load
    monkeypatch.setenv("PYBATON_GRANT_LOADER", "0")
    _write(tmp_path / "in-process.c1z", bulk=True)
    _write(tmp_path / "plain.c1z", bulk=False, workdir=tmp_path / "wip")
    loaded = _contents(tmp_path / "loader.c1z")
    assert len(loaded["rows"]) == 6 * 25 + 1  # the repeated grant id keeps one row
    assert sum(1 for r in loaded["rows"] if r[7] is not None) == 1
    assert loaded == _contents(tmp_path / "in-process.c1z")
    plain = _contents(tmp_path / "plain.c1z")
    # Upserts keep the first row's id for a repeated grant id, a bulk load the last row's: the same
    # rows and listings otherwise.
    assert sorted(r[1:] for r in loaded["rows"]) == sorted(r[1:] for r in plain["rows"])
    assert loaded["stats"] and len(loaded["by_entitlement"]) == 25
    for key in ("grants", "by_entitlement"):
        assert sorted(loaded[key]) == sorted(plain[key])
    assert loaded["stats"] == plain["stats"]
    assert loaded["indexes"] == plain["indexes"]
    assert {spec[0] for spec in schema.INDEXES} <= {name for name, _ in loaded["indexes"]}


def test_a_failing_loader_is_one_clear_error(tmp_path: Path) -> None:
    """The helper's failure surfaces in the caller as a C1ZError (no traceback, nothing saved)."""
    path = tmp_path / "broken.c1z"
    grants = _world()[3]
    with C1ZFile.create(path) as c1z:
        run = syncs.start_run(c1z.conn)
        w = SyncWriter(c1z, run.sync_id)
        w.begin_bulk_grants()
        c1z.conn.execute("drop table v1_grants")  # the helper's insert now fails
        with pytest.raises(C1ZError, match="writing grants failed: no such table"):
            w.put_grants(grants[:10])
            w.end_bulk_grants()
    assert not path.exists()
