"""The console commands: ``serve``, ``review create|status|export|close``, ``console user add|remove|list``.

Thin: load the workspace, open its warehouse (the configured one, else the
embedded SQLite file in ``data_dir``), call :mod:`pybaton.console`. Passwords
come from a prompt or ``$PYBATON_CONSOLE_PASSWORD``, never from a flag that
would end up in shell history and process listings.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from pybaton.cli.identities import WorkspaceOpt
from pybaton.console import reviews, store
from pybaton.console.security import auth_settings
from pybaton.console.users import Role, add_user, list_users, parse_role, remove_user
from pybaton.errors import UsageError, UserError
from pybaton.reconcile.warehousing import open_warehouse
from pybaton.reconcile.workspace import load_workspace

review_app = typer.Typer(help="Access reviews: campaigns of grants that reviewers keep or revoke.",
                         no_args_is_help=True)
console_app = typer.Typer(help="The web console's local accounts.", no_args_is_help=True)
user_app = typer.Typer(help="Local console accounts (argon2-hashed passwords).", no_args_is_help=True)
console_app.add_typer(user_app, name="user")

ListOpt = Annotated[str, typer.Option(help="Space- or comma-separated; empty: all.")]


# -- serve -------------------------------------------------------------------------------------------

def serve_command(
    workspace: WorkspaceOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (anything but loopback "
                                      "requires login).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8080,
    login: Annotated[bool, typer.Option("--login", help="Require login even on 127.0.0.1.")] = False,
    trusted_header: Annotated[str, typer.Option("--trusted-header", help="A reverse proxy's user header "
                                                "(e.g. X-Forwarded-User), honoured only from --trusted-proxy.")] = "",
    trusted_proxy: Annotated[list[str] | None, typer.Option("--trusted-proxy", help="Address of the reverse "
                                                            "proxy (repeatable).", show_default=False)] = None,
    provisioning: Annotated[bool, typer.Option("--provisioning", "-p", help="Let admins apply plans.")] = False,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate.",
                                                  show_default=False)] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="The certificate's key.",
                                                 show_default=False)] = None,
) -> None:
    """The web console over the warehouse: search, people, entitlements, changes, identities, plans, reviews."""
    import uvicorn

    from pybaton.console.app import ConsoleConfig, create_app, new_secret

    if trusted_header and not trusted_proxy:
        raise UsageError("--trusted-header needs --trusted-proxy ADDRESS (the proxy it is honoured from)")
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    ws = load_workspace(workspace)
    wh = open_warehouse(ws)
    store.ensure_tables(wh)
    has_users = bool(list_users(wh))
    auth = auth_settings(host, login=login, has_users=has_users, trusted_header=trusted_header,
                         trusted_proxies=frozenset(trusted_proxy or ()))
    if auth.login_required and not has_users and not trusted_header:
        raise UserError(f"listening on {host} requires login, and there is no console account yet: add one with "
                        "pybaton console user add NAME --role admin")
    env = os.environ.get("BATON_PROVISIONING", "").strip().lower() in ("1", "true", "yes", "on")
    config = ConsoleConfig(ws, wh, auth, os.environ.get("PYBATON_CONSOLE_SECRET") or new_secret(),
                           https=tls_cert is not None, provisioning=provisioning or env or ws.spec.provisioning)
    scheme = "https" if tls_cert else "http"
    typer.echo(f"pybaton console on {scheme}://{host}:{port}/ (warehouse {wh.display_url}; "
               f"{'login required' if auth.login_required else 'local operator, no login'})", err=True)
    try:
        uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False,
                    ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)
    finally:
        wh.close()


# -- review ------------------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


@review_app.command("create")
def review_create(
    name: Annotated[str, typer.Argument(help="The campaign's name.")],
    due: Annotated[str, typer.Option("--due", help="Due date, YYYY-MM-DD (default: in 14 days).",
                                     show_default=False)] = "",
    systems: ListOpt = "", resource_types: ListOpt = "", entitlements: ListOpt = "",
    condition: Annotated[str, typer.Option("--condition", help="Only people matching this CEL condition.")] = "",
    manager_attribute: Annotated[str, typer.Option("--manager-attribute", help="Each person's reviewer is "
                                                   "the manager this IdP attribute names.")] = "",
    reviewer: Annotated[list[str] | None, typer.Option("--reviewer", help="SYSTEM=NAME: that system's reviewer "
                                                       "(repeatable).", show_default=False)] = None,
    default_reviewer: Annotated[str, typer.Option("--default-reviewer", help="Who reviews the rest.")] = "",
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a campaign: every grant in scope becomes an item for its reviewer."""
    pairs = {}
    for entry in reviewer or []:
        key, sep, value = entry.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"--reviewer {entry!r}: expected SYSTEM=NAME")
        pairs[key] = value
    scope = reviews.Scope(systems=_words(systems), resource_types=_words(resource_types),
                          entitlements=_words(entitlements), condition=condition,
                          manager_attribute=manager_attribute, reviewers=pairs, default_reviewer=default_reviewer)
    ws = load_workspace(workspace)
    due = due or (dt.date.today() + dt.timedelta(days=14)).isoformat()
    with open_warehouse(ws) as wh:
        campaign = reviews.create_campaign(ws, wh, name, scope, due, by=_operator())
        _print_progress(wh, campaign.campaign_id)
    typer.echo(f"campaign {campaign.campaign_id} created")


@review_app.command("status")
def review_status(
    campaign: Annotated[str | None, typer.Argument(help="A campaign id (default: list them).",
                                                   show_default=False)] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Campaigns, or one campaign's progress per reviewer."""
    ws = load_workspace(workspace)
    with open_warehouse(ws) as wh:
        if campaign is None:
            for c in reviews.list_campaigns(wh):
                typer.echo(f"{c.campaign_id}  {c.status:6}  due {c.due}  {c.name}")
            return
        found = reviews.get_campaign(wh, campaign)
        typer.echo(f"{found.campaign_id} {found.name!r}: {found.status}, due {found.due}")
        _print_progress(wh, campaign)


def _print_progress(wh: object, campaign_id: str) -> None:
    from pybaton.warehouse import Warehouse

    assert isinstance(wh, Warehouse)
    for p in reviews.progress(wh, campaign_id):
        typer.echo(f"  {p.reviewer}: {p.decided}/{p.total} decided ({p.percent}%), {p.revoked} to revoke")


@review_app.command("export")
def review_export(
    campaign: Annotated[str, typer.Argument(help="The campaign id.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write: .csv or .xlsx.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """The evidence: every item, its decision, reviewer, time and comment."""
    ws = load_workspace(workspace)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise UsageError(f"--out {out}: the evidence is written as .csv or .xlsx")
    with open_warehouse(ws) as wh:
        data = reviews.evidence_xlsx(wh, campaign) if out.suffix.lower() == ".xlsx" else \
            reviews.evidence_csv(wh, campaign).encode()
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(data)
    partial.replace(out)
    typer.echo(f"evidence of {campaign} written to {out}")


@review_app.command("close")
def review_close(
    campaign: Annotated[str, typer.Argument(help="The campaign id.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Close the campaign: its revocations become a plan to apply (pybaton apply FILE -p)."""
    ws = load_workspace(workspace)
    with open_warehouse(ws) as wh:
        plan = reviews.close_campaign(ws, wh, campaign, by=_operator())
    path = reviews.plan_path(ws, campaign)
    typer.echo(f"campaign {campaign} closed: {len(plan.actions)} actions, {len(plan.findings)} findings; "
               f"plan saved to {path}; apply it with: pybaton apply {path} -w {ws.path} -p")


def _operator() -> str:
    from pybaton.provision.audit import operator

    return operator()


# -- console user ------------------------------------------------------------------------------------

@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[str, typer.Option("--role", help="viewer, reviewer or admin.")] = "viewer",
    workspace: WorkspaceOpt = None,
) -> None:
    """Create a local account (or change its password and role). Password: prompt, or $PYBATON_CONSOLE_PASSWORD."""
    chosen = parse_role(role)
    password = os.environ.get("PYBATON_CONSOLE_PASSWORD") or ""
    if not password:
        if not sys.stdin.isatty():
            raise UserError("no password: set PYBATON_CONSOLE_PASSWORD or run in a terminal to be asked")
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    ws = load_workspace(workspace)
    with open_warehouse(ws) as wh:
        add_user(wh, name, password, chosen)
    typer.echo(f"console user {name} ({chosen.value}) saved")


@user_app.command("remove")
def user_remove(name: Annotated[str, typer.Argument(help="The login name.")], workspace: WorkspaceOpt = None) -> None:
    """Delete a local account (their sessions end with it)."""
    ws = load_workspace(workspace)
    with open_warehouse(ws) as wh:
        if not remove_user(wh, name):
            raise UserError(f"no console user {name!r}")
    typer.echo(f"console user {name} removed")


@user_app.command("list")
def user_list(workspace: WorkspaceOpt = None) -> None:
    """The local accounts and their roles."""
    ws = load_workspace(workspace)
    with open_warehouse(ws) as wh:
        for user in list_users(wh):
            typer.echo(f"{user.name}\t{user.role.value}")


def register(app: typer.Typer) -> None:
    """Add the console commands to the ``pybaton`` app."""
    app.command("serve")(serve_command)
    app.add_typer(review_app, name="review")
    app.add_typer(console_app, name="console")


__all__ = ["Role", "register"]
