"""Export one sync for other tools: CSV (Go's upload layout), XLSX (a sheet per table) or JSON lines.

- ``csv`` is byte-for-byte the layout of Go's ``baton export csv``: a header,
  one *Identity* row per user, one *Entitlement* row per entitlement, one
  *Grant* row per grant held by a user (rows in file order rather than Go's
  random map order), so a file made for ConductorOne's upload keeps working.
- ``xlsx`` and ``jsonl`` carry every table in full (resource types, resources,
  entitlements, grants, the latter with the principal's details and whether the
  grant is direct or inherited); ``jsonl`` is one object per row with a
  ``table`` key.

Everything streams (a million grants never sit in memory) and the output
appears atomically: it is written beside the target and renamed over it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pybaton.c1z.access import Holding
from pybaton.c1z.reader import SyncReader
from pybaton.errors import UserError
from pybaton.extras import optional_import
from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_trait_pb2, entitlement_pb2, grant_pb2, resource_pb2

FORMATS = ("csv", "xlsx", "jsonl")
XLSX_MAX_ROWS = 1_048_576

GO_CSV_HEADERS = ("Type", "Last Name", "First Name", "User ID", "User Status", "Email Address",
                  "Entitlement Display Name", "Entitlement", "Resource Type", "Resource Name",
                  "Entitlement Description", "Entitlement Slug")

_STATUS = {
    annotation_trait_pb2.UserTrait.Status.STATUS_ENABLED: "Enabled",
    annotation_trait_pb2.UserTrait.Status.STATUS_DISABLED: "Disabled",
    annotation_trait_pb2.UserTrait.Status.STATUS_DELETED: "Deleted",
}


# -- lookups ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """The user fields of a principal (empty for principals without a user trait)."""

    last_name: str = ""
    first_name: str = ""
    user_id: str = ""
    status: str = ""
    email: str = ""

    @classmethod
    def of(cls, res: resource_pb2.Resource | None) -> Person | None:
        trait = ann.find(res.annotations, annotation_trait_pb2.UserTrait) if res is not None else None
        if trait is None:
            return None
        profile = trait.profile.fields
        email = next((e.address for e in trait.emails if e.is_primary), "")
        status = _STATUS.get(trait.status.status, "Unknown") if trait.HasField("status") else "Enabled"
        return cls(profile["last_name"].string_value if "last_name" in profile else "",
                   profile["first_name"].string_value if "first_name" in profile else "",
                   profile["user_id"].string_value if "user_id" in profile else "", status, email)


class _Lookups:
    """Cached resources and entitlements (a grant listing asks for the same ones over and over)."""

    def __init__(self, reader: SyncReader) -> None:
        self.reader = reader
        self._resources: dict[tuple[str, str], resource_pb2.Resource | None] = {}
        self._entitlements: dict[str, entitlement_pb2.Entitlement] = {}

    def resource(self, rid: resource_pb2.ResourceId) -> resource_pb2.Resource | None:
        key = (rid.resource_type, rid.resource)
        if key not in self._resources:
            self._resources[key] = self.reader.resource(*key) if rid.resource_type else None
        return self._resources[key]

    def resource_name(self, ent: entitlement_pb2.Entitlement) -> str:
        """The entitlement's resource name; v3 files embed only the resource id, so look it up."""
        if ent.resource.display_name:
            return ent.resource.display_name
        found = self.resource(ent.resource.id)
        return found.display_name if found is not None else ""

    def entitlement(self, grant: grant_pb2.Grant) -> entitlement_pb2.Entitlement:
        eid = grant.entitlement.id
        if eid not in self._entitlements:
            self._entitlements[eid] = self.reader.entitlement(eid) or grant.entitlement
        return self._entitlements[eid]


# -- Go's CSV --------------------------------------------------------------------------------------


def _go_entitlement_cells(ent: entitlement_pb2.Entitlement) -> list[str]:
    return [ent.display_name, ent.id, ent.resource.id.resource_type, ent.resource.display_name, ent.description,
            ent.slug]


def go_csv_rows(reader: SyncReader) -> Iterator[list[str]]:
    """Go's export rows, header first."""
    yield list(GO_CSV_HEADERS)
    user_types = [rt.id for rt in reader.resource_types() if resource_pb2.ResourceType.TRAIT_USER in rt.traits]
    for type_id in user_types:
        for res in reader.resources(type_id):
            person = Person.of(res)
            if person is not None:
                yield ["Identity", person.last_name, person.first_name, person.user_id, person.status, person.email,
                       "", "", "", "", "", ""]
    for ent in reader.entitlements():
        yield ["Entitlement", "", "", "", "", "", *_go_entitlement_cells(ent)]
    look = _Lookups(reader)
    for grant in reader.grants():
        person = Person.of(look.resource(grant.principal.id))
        if person is not None:
            yield ["Grant", person.last_name, person.first_name, person.user_id, "", person.email,
                   *_go_entitlement_cells(look.entitlement(grant))]


# -- full tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One table of the full export: a name, its columns, and its rows (streamed)."""

    name: str
    kind: str
    columns: Sequence[str]
    rows: Callable[[], Iterator[list[Any]]]


def _trait_names(rt: resource_pb2.ResourceType) -> str:
    return ",".join(resource_pb2.ResourceType.Trait.Name(t).removeprefix("TRAIT_").lower()
                    for t in rt.traits if t in resource_pb2.ResourceType.Trait.values())


def _resource_type_rows(reader: SyncReader) -> Iterator[list[Any]]:
    for rt in reader.resource_types():
        yield [rt.id, rt.display_name, _trait_names(rt), rt.description]


def _resource_rows(reader: SyncReader) -> Iterator[list[Any]]:
    for res in reader.resources():
        person = Person.of(res) or Person()
        parent = res.parent_resource_id
        yield [res.id.resource_type, res.id.resource, res.display_name, parent.resource_type, parent.resource,
               res.description, person.email, person.status]


def _entitlement_rows(reader: SyncReader) -> Iterator[list[Any]]:
    look = _Lookups(reader)
    for ent in reader.entitlements():
        purpose = entitlement_pb2.Entitlement.PurposeValue.Name(ent.purpose).removeprefix("PURPOSE_VALUE_").lower() \
            if ent.purpose in entitlement_pb2.Entitlement.PurposeValue.values() else str(ent.purpose)
        yield [ent.id, ent.display_name, ent.resource.id.resource_type, ent.resource.id.resource,
               look.resource_name(ent), ent.slug, purpose, ent.description]


def _grant_rows(reader: SyncReader) -> Iterator[list[Any]]:
    look = _Lookups(reader)
    for grant in reader.grants():
        ent = look.entitlement(grant)
        principal = look.resource(grant.principal.id)
        person = Person.of(principal) or Person()
        holding = Holding.of(grant)
        yield [grant.id, ent.id, ent.display_name, ent.resource.id.resource_type, ent.resource.id.resource,
               look.resource_name(ent), grant.principal.id.resource_type, grant.principal.id.resource,
               principal.display_name if principal is not None else "", person.email, holding.kind,
               ";".join(holding.via)]


def tables(reader: SyncReader) -> list[Table]:
    """The four tables of a sync, in the order they are exported."""
    return [
        Table("Resource Types", "resource_type", ("id", "display_name", "traits", "description"),
              lambda: _resource_type_rows(reader)),
        Table("Resources", "resource", ("resource_type", "resource_id", "display_name", "parent_resource_type",
                                        "parent_resource_id", "description", "email", "status"),
              lambda: _resource_rows(reader)),
        Table("Entitlements", "entitlement", ("entitlement_id", "display_name", "resource_type", "resource_id",
                                              "resource_display_name", "slug", "purpose", "description"),
              lambda: _entitlement_rows(reader)),
        Table("Grants", "grant", ("grant_id", "entitlement_id", "entitlement_display_name", "resource_type",
                                  "resource_id", "resource_display_name", "principal_type", "principal_id",
                                  "principal_display_name", "principal_email", "access", "via"),
              lambda: _grant_rows(reader)),
    ]


# -- writers ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temp path beside ``target`` that replaces it only if the block succeeds."""
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UserError(f"{target}: directory {directory} does not exist")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write_text(target: Path, fill: Callable[[IO[str]], int]) -> int:
    with atomic_path(target) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        return fill(fh)


def _go_csv_field(value: str) -> str:
    """One field quoted exactly when Go's ``encoding/csv`` quotes it (it also quotes a leading space)."""
    needs = value == "\\." or any(c in value for c in '"\r\n,') or (value[:1].isspace() if value else False)
    return '"' + value.replace('"', '""') + '"' if needs else value


def go_csv_line(fields: Sequence[str]) -> str:
    return ",".join(_go_csv_field(f) for f in fields) + "\n"


def _fill_csv(reader: SyncReader) -> Callable[[IO[str]], int]:
    def fill(fh: IO[str]) -> int:
        count = -1
        for row in go_csv_rows(reader):
            fh.write(go_csv_line(row))
            count += 1
        return count
    return fill


def _fill_jsonl(reader: SyncReader) -> Callable[[IO[str]], int]:
    def fill(fh: IO[str]) -> int:
        count = 0
        buf = io.StringIO()
        for table in tables(reader):
            for row in table.rows():
                buf.write(json.dumps({"table": table.kind, **dict(zip(table.columns, row, strict=True))},
                                     ensure_ascii=False))
                buf.write("\n")
                count += 1
                if buf.tell() > 1 << 20:
                    fh.write(buf.getvalue())
                    buf = io.StringIO()
        fh.write(buf.getvalue())
        return count
    return fill


def _write_xlsx(reader: SyncReader, target: Path) -> int:
    with optional_import("export --format xlsx"):
        from openpyxl import Workbook
    book = Workbook(write_only=True)
    count = 0
    for table in tables(reader):
        sheet, used = None, XLSX_MAX_ROWS
        part = 0
        for row in table.rows():
            if used >= XLSX_MAX_ROWS:  # a sheet holds ~1M rows: continue on "Grants (2)" and so on
                part += 1
                sheet = book.create_sheet(table.name if part == 1 else f"{table.name} ({part})")
                sheet.append(list(table.columns))
                used = 1
            assert sheet is not None
            sheet.append(row)
            used += 1
            count += 1
        if part == 0:
            book.create_sheet(table.name).append(list(table.columns))
    with atomic_path(target) as tmp:
        book.save(tmp)
    return count


def export(reader: SyncReader, fmt: str, target: Path) -> int:
    """Write the sync to ``target`` in ``fmt``; return the number of data rows written."""
    if fmt == "csv":
        return _write_text(target, _fill_csv(reader))
    if fmt == "jsonl":
        return _write_text(target, _fill_jsonl(reader))
    if fmt == "xlsx":
        return _write_xlsx(reader, target)
    raise UserError(f"unknown export format {fmt!r} (use {', '.join(FORMATS)})")
