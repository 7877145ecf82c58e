"""``pybaton sql …``: tools for the SQL meta-connector beyond syncing.

* ``validate --config app.yml`` checks a baton-sql file offline (no database).
* ``actions --config app.yml`` lists the file's ``actions``.
* ``action NAME --config app.yml --args '{"k": "v"}' -p`` runs one, with
  ``--dry-run`` printing the statements and values instead.

Syncing and provisioning go through ``pybaton sync sql --config app.yml`` and
its standard Baton flags.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from pybaton.cli.options import DEFAULT_FILE
from pybaton.errors import UsageError, UserError
from pybaton.provision.audit import AuditLog, default_audit_path

sql_app = typer.Typer(help="The SQL meta-connector: validate a baton-sql config, list and run its actions.",
                      no_args_is_help=True)

ConfigOpt = Annotated[str, typer.Option("--config", "--config-path", help="the baton-sql YAML file",
                                        envvar="BATON_CONFIG", show_default=False)]
StrictOpt = Annotated[bool, typer.Option("--strict", help="unknown keys are errors, not warnings")]


@sql_app.command("validate")
def validate_command(config: ConfigOpt, strict: StrictOpt = False) -> None:
    """Check a baton-sql config without connecting: keys, CEL expressions, query tokens."""
    from pybaton.connectors.sql.validate import check

    report = check(config, strict=strict)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"{config}: valid")
    for line in report.summary:
        typer.echo(f"  {line}")
    if report.env:
        typer.echo(f"  needs environment variable(s): {', '.join(report.env)}")


def _connector(config: str, strict: bool) -> Any:
    from pybaton.connectors.sql import SqlConnector, SqlConnectorConfig

    return SqlConnector(SqlConnectorConfig.model_validate({"config": config, "strict": strict}))


@sql_app.command("actions")
def actions_command(config: ConfigOpt, strict: StrictOpt = False) -> None:
    """List the actions the config defines, with their arguments, as JSON."""
    connector = _connector(config, strict)
    typer.echo(json.dumps(connector.actions(), indent=2, default=str))


def _arguments(raw: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise UsageError(f"--args: not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise UsageError("--args: expected a JSON object of argument names to values")
    return parsed


@sql_app.command("action")
def action_command(
    name: Annotated[str, typer.Argument(help="the action's key under `actions:`")],
    config: ConfigOpt,
    args: Annotated[str, typer.Option("--args", help="arguments as a JSON object")] = "",
    provisioning: Annotated[bool, typer.Option("--provisioning", "-p", help="allow writes to the database")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the statements and values; change nothing")] = False,
    audit_log: Annotated[str, typer.Option("--audit-log", help="append-only JSON-lines audit of the run")] =
    str(default_audit_path(DEFAULT_FILE)),
    strict: StrictOpt = False,
) -> None:
    """Run one of the config's actions (needs -p, like every write); audited, arguments by name only."""
    arguments = _arguments(args)
    target = {"action": name, "config": config, "arguments": ",".join(sorted(arguments))}
    with AuditLog.open(audit_log, "sql") as audit:
        connector = _connector(config, strict)
        try:
            if dry_run:
                for sql, params in connector.plan_action(name, arguments):
                    typer.echo(f"{sql.strip()}\n  -- values: {json.dumps(params, default=str)}")
                audit.record("action", target, dry_run=True, result="planned")
                return
            if not provisioning:
                message = f"action {name!r} writes to the database: add -p (--provisioning), or --dry-run"
                audit.record("action", target, dry_run=False, result="refused", error=message)
                raise UserError(message)
            _run_audited(connector, name, arguments, audit, target)
        finally:
            connector.close()


def _run_audited(connector: Any, name: str, arguments: dict[str, Any], audit: AuditLog,
                 target: dict[str, str]) -> None:
    try:
        outcome = connector.run_action(name, arguments)
    except Exception as exc:
        audit.record("action", target, dry_run=False, result="failed", error=str(exc))
        raise
    audit.record("action", target, dry_run=False, result="done" if outcome["changed"] else "unchanged")
    typer.echo(json.dumps(outcome))


def register(app: typer.Typer) -> None:
    app.add_typer(sql_app, name="sql")
