"""Tutorial: a pybaton connector over one CSV file, in about 100 lines.

Each row is a person, ``login,name,email,groups`` (groups separated by ``;``); the
connector reports users, groups, each group's ``member`` entitlement and its holders:

    python examples/csv_connector.py -f out.c1z --path examples/data/people.csv
    pybaton grants -f out.c1z

The config field ``path`` became ``--path`` (and ``BATON_PATH``, and ``path:`` in
``.baton.yaml``); ``-f``, ``--page-size`` and the other standard flags come free.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import Field

from pybaton import model
from pybaton.connector import (
    Connector,
    ConnectorConfig,
    ConnectorMetadata,
    Page,
    PageToken,
    ResourceSyncer,
    run,
)
from pybaton.errors import ConfigError

T = TypeVar("T")
Person = dict[str, str]
USER = model.resource_type("user", "User", traits=["user"])
GROUP = model.resource_type("group", "Group", traits=["group"])


class CsvConfig(ConnectorConfig):
    path: Path = Field(description="CSV file with the columns login,name,email,groups")


def paginate(items: Sequence[T], page: PageToken) -> Page[T]:
    """Serve a list a page at a time: the token is the offset of the next page ("" = done)."""
    start = int(page.token or 0)
    end = start + page.size
    return Page(items[start:end], str(end) if end < len(items) else "")


def groups_of(person: Person) -> list[str]:
    return [g.strip() for g in (person.get("groups") or "").split(";") if g.strip()]


class CsvSyncer(ResourceSyncer):
    """Syncers share the rows read once by the connector (a real one would share an API client)."""

    def __init__(self, people: list[Person]) -> None:
        self.people = people


class UserSyncer(CsvSyncer):
    resource_type = USER

    def list(self, parent: model.ResourceId | None, page: PageToken) -> Page[model.Resource]:
        users = [model.resource(USER, p["login"], p["name"],
                                traits=[model.user_trait(emails=[p["email"]], login=p["login"])])
                 for p in self.people]
        return paginate(users, page)


class GroupSyncer(CsvSyncer):
    resource_type = GROUP

    def list(self, parent: model.ResourceId | None, page: PageToken) -> Page[model.Resource]:
        names = sorted({g for p in self.people for g in groups_of(p)})
        return paginate([model.resource(GROUP, g, g.title(), traits=[model.group_trait()]) for g in names], page)

    def entitlements(self, resource: model.Resource, page: PageToken) -> Page[model.Entitlement]:
        return Page([model.assignment(resource, "member", grantable_to=[USER])])

    def grants(self, resource: model.Resource, page: PageToken) -> Page[model.Grant]:
        member = model.entitlement_ref(resource, "member")
        holders = [p for p in self.people if resource.id.resource in groups_of(p)]
        return paginate([model.grant(member, model.resource_id("user", p["login"])) for p in holders], page)


class CsvConnector(Connector[CsvConfig]):
    metadata = ConnectorMetadata("csv", "CSV file", "Users and group memberships from one CSV file")
    config_class = CsvConfig

    def validate(self) -> None:
        if not self.config.path.is_file():
            raise ConfigError(f"{self.config.path} is not a file", field="path")

    def syncers(self) -> Sequence[ResourceSyncer]:
        with self.config.path.open(newline="") as fh:
            people = list(csv.DictReader(fh))
        return [UserSyncer(people), GroupSyncer(people)]


if __name__ == "__main__":
    run(CsvConnector)
