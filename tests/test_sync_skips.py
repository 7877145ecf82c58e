"""Skip annotations on a resource type or a resource keep the engine from asking for that data."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from google.protobuf.message import Message

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader
from pybaton.connector import Connector, ConnectorConfig, ConnectorMetadata, Page, PageToken, ResourceSyncer
from pybaton.pb.c1.connector.v2 import annotation_resource_tree_pb2 as tree
from pybaton.pb.c1.connector.v2 import resource_pb2
from pybaton.sync import SyncOptions, sync

USER = model.resource_type("user", "User", traits=["user"])


def _groups_syncer(type_annotations: list[Message], resource_annotations: dict[str, Message]) -> ResourceSyncer:
    rtype = model.resource_type("group", "Group", traits=["group"], annotations=type_annotations)

    class Groups(ResourceSyncer):
        resource_type = rtype
        calls: ClassVar[list[str]] = []

        def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[model.Resource]:
            out = []
            for gid in ("a", "b"):
                extra = [resource_annotations[gid]] if gid in resource_annotations else []
                out.append(model.resource(rtype, gid, gid.upper(), annotations=extra))
            return Page(out)

        def entitlements(self, resource: model.Resource, page: PageToken) -> Page[model.Entitlement]:
            self.calls.append(f"entitlements:{resource.id.resource}")
            return Page([model.assignment(resource, "member", grantable_to=[USER])])

        def grants(self, resource: model.Resource, page: PageToken) -> Page[model.Grant]:
            self.calls.append(f"grants:{resource.id.resource}")
            return Page([model.grant(model.assignment(resource, "member"), model.resource_id("user", "u"))])

    return Groups()


class Users(ResourceSyncer):
    resource_type = USER

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[model.Resource]:
        return Page([model.resource(USER, "u", "U")])


def _run(tmp_path: Path, groups: ResourceSyncer) -> list[str]:
    class Toy(Connector[ConnectorConfig]):
        metadata = ConnectorMetadata("toy", "Toy")

        def syncers(self) -> list[ResourceSyncer]:
            return [Users(), groups]

    sync(Toy(ConnectorConfig()), tmp_path / "s.c1z", SyncOptions(expand=False))
    return sorted(groups.calls)  # type: ignore[attr-defined]


def test_skip_grants_on_the_type_keeps_entitlements(tmp_path: Path) -> None:
    calls = _run(tmp_path, _groups_syncer([tree.SkipGrants()], {}))
    assert calls == ["entitlements:a", "entitlements:b"]
    with C1ZFile.open(tmp_path / "s.c1z") as c1z:
        reader = SyncReader.of(c1z)
        assert len(list(reader.entitlements())) == 2
        assert list(reader.grants()) == []


def test_skip_entitlements_on_one_resource(tmp_path: Path) -> None:
    calls = _run(tmp_path, _groups_syncer([], {"a": tree.SkipEntitlements()}))
    assert calls == ["entitlements:b", "grants:a", "grants:b"]


def test_skip_entitlements_and_grants_on_one_resource(tmp_path: Path) -> None:
    calls = _run(tmp_path, _groups_syncer([], {"b": tree.SkipEntitlementsAndGrants()}))
    assert calls == ["entitlements:a", "grants:a"]
