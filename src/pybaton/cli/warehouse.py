"""The warehouse commands: ``warehouse load|status|sql``, ``who-has``, ``changes`` and ``access --person``.

Thin: find the warehouse (``--warehouse URL|PATH``, else the workspace's
setting, else the embedded file in its ``data_dir``), call
:mod:`pybaton.warehouse`, render as a table, JSON or CSV.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer

from pybaton.cli.identities import WorkspaceOpt
from pybaton.cli.options import OutputOpt, Settings, settings
from pybaton.cli.read import show
from pybaton.cli.render import Column, Listing
from pybaton.errors import UserError
from pybaton.reconcile.warehousing import load_systems, open_warehouse
from pybaton.reconcile.workspace import Workspace, find_workspace, load_workspace
from pybaton.warehouse import AccessEntry, AsOf, Change, Warehouse, parse_as_of, parse_moment

WarehouseOpt = Annotated[str | None, typer.Option(
    "--warehouse", envvar="PYBATON_WAREHOUSE", show_default=False,
    help="The warehouse: a postgresql:// URL or a SQLite file (default: the workspace's).")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", show_default=False,
    help="Answer as of a date (2026-03-01, end of day UTC), a time, a duration back (7d) or a sync id.")]

warehouse_app = typer.Typer(help="The access warehouse: every system's syncs, now and back in time.",
                            no_args_is_help=True)


@contextlib.contextmanager
def opened(workspace: str | None, url: str | None) -> Iterator[tuple[Workspace | None, Warehouse]]:
    """The workspace (when there is one, or it is needed) and the warehouse."""
    ws = load_workspace(workspace) if (workspace or not url or _default_workspace_exists()) else None
    with open_warehouse(ws, url) as wh:
        yield ws, wh


def _default_workspace_exists() -> bool:
    try:
        find_workspace(None)
    except UserError:
        return False
    return True


def _columns(names: Sequence[str], console: Sequence[str]) -> list[Column[dict[str, Any]]]:
    def getter(name: str) -> Any:
        return lambda row: _cell(row[name])

    return [Column(name.replace("_", " ").title(), name, getter(name), console=name in console) for name in names]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


# -- access entries --------------------------------------------------------------------------------

_ENTRY_FIELDS = tuple(AccessEntry.__dataclass_fields__)


def _entries_listing(title: str, entries: Sequence[AccessEntry], console: Sequence[str]) -> Listing[Any]:
    return Listing(title, "grants", _columns(_ENTRY_FIELDS, console), [e.as_dict() for e in entries])


def _as_of_text(as_of: AsOf | None) -> str:
    return str(as_of) if as_of is not None else "now"


# -- warehouse load / status / sql -----------------------------------------------------------------

@warehouse_app.command("load")
def load_command(systems: Annotated[list[str] | None, typer.Argument(help="Systems (default: all).",
                                                                      show_default=False)] = None,
                 workspace: WorkspaceOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Load each system's newest sync not yet in the warehouse (atomically, one system at a time)."""
    ws = load_workspace(workspace)
    names = systems or list(ws.systems)
    for name in names:
        ws.system(name)
    with open_warehouse(ws, warehouse) as wh:
        loads = load_systems(ws, wh, names)
    for item in loads:
        if item.result is None:
            typer.echo(f"error: {item.error}", err=True)
        elif item.result.loaded:
            pruned = f", pruned {len(item.result.pruned)} old syncs" if item.result.pruned else ""
            typer.echo(f"{item.system}: loaded sync {item.result.sync_id} ({item.result.grants} grants) "
                       f"in {item.result.seconds:.1f}s{pruned}")
        else:
            typer.echo(f"{item.system}: sync {item.result.sync_id} is already loaded")
    if any(not item.ok for item in loads):
        raise typer.Exit(1)


_STATUS_FIELDS = ("system", "syncs", "current_sync", "current_ended", "grants", "resources", "entitlements",
                  "loaded_at", "load_seconds")


@warehouse_app.command("status")
def status_command(ctx: typer.Context, workspace: WorkspaceOpt = None, warehouse: WarehouseOpt = None,
                   output: OutputOpt = None) -> None:
    """Per system: syncs held, the current one, its rows, when it was loaded and how long that took."""
    opts = settings(ctx, None, output, None)
    with opened(workspace, warehouse) as (_, wh):
        rows = [s.as_dict() for s in wh.status()]
        where = wh.display_url
    for row in rows:
        row["load_seconds"] = f"{row['load_seconds']:.2f}"
    show(opts, {"warehouse": where, "systems": rows},
         Listing(f"Warehouse {where}", "systems", _columns(_STATUS_FIELDS, _STATUS_FIELDS), rows))


@warehouse_app.command("sql")
def sql_command(ctx: typer.Context, statement: Annotated[str, typer.Argument(help="One SQL statement.")],
                workspace: WorkspaceOpt = None, warehouse: WarehouseOpt = None, output: OutputOpt = None) -> None:
    """Run one read-only SQL statement on the warehouse (anything that writes is refused)."""
    opts = settings(ctx, None, output, None)
    with opened(workspace, warehouse) as (_, wh):
        result = wh.sql(statement)
    rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    listing = Listing("", "rows", _columns(result.columns, result.columns), rows)
    show(opts, {"columns": list(result.columns),
                            "rows": [json.loads(json.dumps(r, default=_cell)) for r in rows],
                            "truncated": result.truncated},
         listing)
    if result.truncated:
        typer.echo(f"(only the first {len(rows)} rows)", err=True)


# -- cross-system questions ------------------------------------------------------------------------

def who_has_command(ctx: typer.Context,
                    entitlement: Annotated[str, typer.Argument(help="An entitlement id, e.g. group:eng:member.")],
                    system: Annotated[str | None, typer.Option("--system", help="Only this system.",
                                                               show_default=False)] = None,
                    as_of: AsOfOpt = None, workspace: WorkspaceOpt = None, warehouse: WarehouseOpt = None,
                    output: OutputOpt = None) -> None:
    """Who holds an entitlement, in every system (or one), directly or through which group."""
    opts = settings(ctx, None, output, None)
    when = parse_as_of(as_of)
    with opened(workspace, warehouse) as (_, wh):
        entries = wh.who_has(entitlement, system=system, as_of=when)
    console = ("system", "principal_type", "principal_id", "principal_name", "person_email", "access", "via")
    show(opts, {"entitlement": entitlement, "as_of": _as_of_text(when), "holders": [e.as_dict() for e in entries]},
         _entries_listing(f"Holders of {entitlement} (as of {_as_of_text(when)})", entries, console))


def changes_command(ctx: typer.Context,
                    since: Annotated[str, typer.Option("--since", help="A date, a time or a duration back "
                                                       "(7d, 12h).")] = "7d",
                    as_of: AsOfOpt = None, workspace: WorkspaceOpt = None, warehouse: WarehouseOpt = None,
                    output: OutputOpt = None) -> None:
    """Grants added and removed in each system since a moment (up to now, or --as-of)."""
    opts = settings(ctx, None, output, None)
    moment = parse_moment(since)
    when = parse_as_of(as_of)
    with opened(workspace, warehouse) as (_, wh):
        found = wh.changes(moment, as_of=when)
    fields = tuple(Change.__dataclass_fields__)
    console = ("system", "change", "entitlement_id", "principal_type", "principal_id", "access")
    listing = Listing(f"Changes since {moment.isoformat(sep=' ', timespec='seconds')}", "changes",
                      _columns(fields, console), [c.as_dict() for c in found])
    summary: dict[str, dict[str, int]] = {}
    for change in found:
        summary.setdefault(change.system, {"added": 0, "removed": 0})[change.change] += 1
    show(opts, {"since": moment.isoformat(timespec="seconds"), "as_of": _as_of_text(when), "systems": summary,
                            "changes": [c.as_dict() for c in found]},
         listing)


def person_access(opts: Settings, person: str, as_of: str | None, workspace: str | None,
                  warehouse: str | None) -> None:
    """``access --person``: every account of a person in every system, and everything each holds."""
    when = parse_as_of(as_of)
    with opened(workspace, warehouse) as (_, wh):
        who, entries = wh.person_access(person, as_of=when)
    console = ("system", "principal_id", "resource_type_id", "resource_name", "entitlement_id", "access", "via")
    title = f"Access of {who.email or who.name} ({len(who.accounts)} accounts, as of {_as_of_text(when)})"
    show(opts, {"person": {"identity_id": who.identity_id, "name": who.name, "email": who.email,
                        "accounts": [f"{s}/{t}:{i}" for s, t, i in who.accounts]},
             "as_of": _as_of_text(when), "access": [e.as_dict() for e in entries]},
         _entries_listing(title, entries, console))


def register(app: typer.Typer) -> None:
    """Add the warehouse commands to the ``pybaton`` app."""
    app.add_typer(warehouse_app, name="warehouse")
    app.command("who-has")(who_has_command)
    app.command("changes")(changes_command)
