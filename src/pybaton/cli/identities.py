"""``pybaton identities``: who is who across the workspace's systems, and what does not add up.

The default view lists every identity with its accounts per system and the
rule that linked each; ``--orphans``, ``--leavers``, ``--ambiguous`` and
``--service`` list the accounts that need a person's attention instead.
``-o json`` gives everything (or the chosen list), ``-o csv`` one row per line
of the chosen table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import typer

from pybaton.cli.options import OutputFormat, OutputOpt, settings
from pybaton.cli.render import Column, Listing, count_line, emit_json, print_console, print_csv
from pybaton.errors import UsageError
from pybaton.identity import Account, Ambiguity, Correlation, Identity
from pybaton.reconcile.state import State, open_state
from pybaton.reconcile.workspace import load_workspace

WorkspaceOpt = Annotated[str | None, typer.Option("--workspace", "-w", help="The workspace file (default "
                                                  "./pybaton.yaml, or $PYBATON_WORKSPACE).", show_default=False)]


@dataclass(frozen=True)
class LinkRow:
    identity: str
    name: str
    status: str
    email: str
    system: str
    account: str
    account_name: str
    rule: str
    value: str


@dataclass(frozen=True)
class AccountRow:
    system: str
    account: str
    name: str
    emails: str
    kind: str
    status: str
    holds_grants: bool


@dataclass(frozen=True)
class LeaverRow:
    identity: str
    name: str
    identity_status: str
    system: str
    account: str
    account_status: str
    grants: int


@dataclass(frozen=True)
class AmbiguityRow:
    system: str
    account: str
    name: str
    rule: str
    value: str
    candidates: str


def _links(correlation: Correlation) -> list[LinkRow]:
    rows = []
    for identity in correlation.identities.values():
        src = identity.source
        for link in identity.links:
            a = link.account
            rows.append(LinkRow(identity.id, identity.name, src.status, src.emails[0] if src.emails else "",
                                a.system, a.ref, a.name, link.rule, link.value))
    return rows


def _account_row(a: Account) -> AccountRow:
    return AccountRow(a.system, a.ref, a.name, ", ".join(a.emails), a.kind, a.status, a.holds_grants)


def _leaver_rows(state: State) -> list[LeaverRow]:
    rows = []
    for identity, link in state.correlation.leavers():
        a = link.account
        system = state.systems.get(a.system)
        held = len(system.held_by((a.resource_type, a.resource_id))) if system is not None else 0
        rows.append(LeaverRow(identity.id, identity.name, identity.source.status, a.system, a.ref, a.status, held))
    return rows


def _ambiguity_row(amb: Ambiguity) -> AmbiguityRow:
    a = amb.account
    return AmbiguityRow(a.system, a.ref, a.name, amb.rule, amb.value, ", ".join(amb.candidates))


def _columns(row_type: type[Any], console: set[str]) -> list[Column[Any]]:
    """One column per field; ``console`` names those the console table shows (CSV has them all)."""
    def getter(name: str) -> Callable[[Any], str]:
        return lambda row: str(getattr(row, name))

    return [Column(name.replace("_", " "), name, getter(name), console=name in console)
            for name in row_type.__dataclass_fields__]


_VIEWS: dict[str, tuple[str, str, type[Any], set[str]]] = {
    "identities": ("Identities and their accounts", "accounts", LinkRow,
                   {"name", "status", "system", "account", "rule", "value"}),
    "orphans": ("Orphan accounts (no identity)", "orphan accounts", AccountRow,
                {"system", "account", "name", "emails", "status", "holds_grants"}),
    "leavers": ("Accounts of leavers (disabled or deleted identities)", "leaver accounts", LeaverRow,
                {"name", "identity_status", "system", "account", "account_status", "grants"}),
    "ambiguous": ("Ambiguous accounts (several identities match)", "ambiguous accounts", AmbiguityRow,
                  {"system", "account", "name", "rule", "value", "candidates"}),
    "service": ("Service and system accounts", "service accounts", AccountRow,
                {"system", "account", "name", "kind", "status", "holds_grants"}),
}


def _rows(state: State) -> dict[str, list[Any]]:
    c = state.correlation
    return {"identities": _links(c), "orphans": [_account_row(a) for a in c.orphans],
            "leavers": _leaver_rows(state), "ambiguous": [_ambiguity_row(a) for a in c.ambiguous],
            "service": [_account_row(a) for a in c.service]}


def _identity_doc(identity: Identity) -> dict[str, Any]:
    src = identity.source
    return {"id": identity.id, "name": identity.name, "status": src.status, "emails": list(src.emails),
            "attributes": {k: v for k, v in identity.attributes.items() if k != "profile"},
            "accounts": [{"system": link.account.system, "account": link.account.ref, "rule": link.rule,
                          "value": link.value} for link in identity.links]}


def _view(orphans: bool, leavers: bool, ambiguous: bool, service: bool) -> str | None:
    chosen = [name for name, on in (("orphans", orphans), ("leavers", leavers), ("ambiguous", ambiguous),
                                    ("service", service)) if on]
    if len(chosen) > 1:
        raise UsageError("choose one of --orphans, --leavers, --ambiguous, --service")
    return chosen[0] if chosen else None


def identities_command(
    ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = None,
    orphans: Annotated[bool, typer.Option("--orphans", help="Accounts that belong to no identity.")] = False,
    leavers: Annotated[bool, typer.Option("--leavers", help="Accounts of disabled or deleted identities.")] = False,
    ambiguous: Annotated[bool, typer.Option("--ambiguous", help="Accounts matching several identities.")] = False,
    service: Annotated[bool, typer.Option("--service", help="Service and system accounts.")] = False,
) -> None:
    """People across the workspace's systems: identities with their accounts, orphans, leavers, ambiguous."""
    opts = settings(ctx, None, output, None)
    view = _view(orphans, leavers, ambiguous, service)
    if view is None and opts.output is OutputFormat.CSV:
        view = "identities"
    ws = load_workspace(workspace)
    with open_state(ws) as state:
        rows = _rows(state)
        docs = [_identity_doc(i) for i in state.correlation.identities.values()]
    if opts.output is OutputFormat.JSON:
        if view is None:
            emit_json({"identities": docs, **{k: [asdict(r) for r in v] for k, v in rows.items()
                                              if k != "identities"}})
        else:
            emit_json({view: docs if view == "identities" else [asdict(r) for r in rows[view]]})
        return
    _print_view(view or "identities", rows, csv=opts.output is OutputFormat.CSV)
    if view is None:
        typer.echo("; ".join(count_line(len(v), _VIEWS[k][1]) for k, v in rows.items() if k != "identities" and v)
                   or "every account belongs to an identity")


def _print_view(view: str, rows: dict[str, list[Any]], *, csv: bool) -> None:
    title, noun, row_type, console = _VIEWS[view]
    listing = Listing(title, noun, _columns(row_type, console), rows[view])
    (print_csv if csv else print_console)(listing)


def register(app: typer.Typer) -> None:
    app.command("identities")(identities_command)


__all__ = ["WorkspaceOpt", "identities_command", "register"]
