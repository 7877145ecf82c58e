"""Warehouse fixtures: the same test on the embedded SQLite default and on a real PostgreSQL.

``warehouse_url`` is parametrised over both backends: a SQLite file in the
test's temp dir, or a fresh database on the session's PostgreSQL server.
:func:`write_sync` writes a small sync run (users in groups) into a ``.c1z``,
adding a run to the file when it exists, so tests control exactly what changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pybaton import model
from pybaton.c1z import C1ZFile, SyncWriter, syncs

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "warehouse.sqlite")
    request.applymarker(pytest.mark.servers)
    pg = request.getfixturevalue("postgres_server")
    name = f"wh_{uuid.uuid4().hex[:12]}"
    pg.create_database(name)
    return str(pg.dsn(name))


def write_sync(path: Path, members: Mapping[str, Sequence[str]], *, users: int = 0) -> str:
    """Append a full sync run: ``members`` is group → user logins; ``users`` extra users without grants."""
    user_rt = model.resource_type("user", "User", traits=["user"])
    group_rt = model.resource_type("group", "Group", traits=["group"])
    logins = sorted({u for group in members.values() for u in group} | {f"extra{i}" for i in range(users)})
    people = {u: model.resource(user_rt, u, u.title(), traits=[model.user_trait(emails=[f"{u}@example.com"],
                                                                                  login=u)])
              for u in logins}
    groups = {g: model.resource(group_rt, g, g.title(), traits=[model.group_trait()]) for g in members}
    ents = {g: model.assignment(res, "member", grantable_to=[user_rt]) for g, res in groups.items()}
    c1z = C1ZFile.create(path)
    try:
        run = syncs.start_run(c1z.conn)
        writer = SyncWriter(c1z, run.sync_id)
        writer.put_resource_types([user_rt, group_rt])
        writer.put_resources([*people.values(), *groups.values()])
        writer.put_entitlements(ents.values())
        writer.put_grants(model.grant(ents[g], people[u]) for g, us in members.items() for u in us)
        syncs.end_run(c1z.conn, run.sync_id)
        c1z.save()
    finally:
        c1z.close()
    return run.sync_id
