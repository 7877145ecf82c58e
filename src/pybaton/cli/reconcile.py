"""The workspace commands: ``workspace sync|check``, ``identities``, ``plan``, ``apply``, ``reconcile``.

Each is a thin layer over :mod:`pybaton.reconcile`: find and load the
workspace (``-w``, ``$PYBATON_WORKSPACE``, ``./pybaton.yaml``), call, render.
Commands that write take the workspace lock, so two of them never interleave;
``apply`` and ``reconcile`` write only with ``-p`` (or ``BATON_PROVISIONING=1``,
or ``provisioning: true`` in the workspace) and preview with ``--dry-run``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from pybaton.cli import identities
from pybaton.cli.identities import WorkspaceOpt
from pybaton.cli.options import OutputFormat, OutputOpt, require_format, settings
from pybaton.cli.reconcile_render import SyncBoard, print_plan, print_syncs, result_line
from pybaton.cli.render import emit_json
from pybaton.connector.logging import LEVELS, configure
from pybaton.errors import UsageError
from pybaton.reconcile import (
    ApplyOptions,
    ApplyReport,
    Plan,
    Workspace,
    apply_plan,
    load_plan,
    load_policy,
    load_workspace,
    plan_now,
    run_loop,
    sync_systems,
    workspace_lock,
)
from pybaton.reconcile.brake import check_brakes
from pybaton.reconcile.execute import Result
from pybaton.reconcile.policy import parse_duration

_TEXT = (OutputFormat.CONSOLE, OutputFormat.JSON)

PolicyOpt = Annotated[list[Path] | None, typer.Option("--policy", help="A policy file (repeatable; default: the "
                                                      "workspace's policies).", show_default=False)]
LogLevelOpt = Annotated[str, typer.Option("--log-level", help="debug, info, warn or error (stderr).")]
ProvisioningOpt = Annotated[bool, typer.Option("--provisioning", "-p", help="Allow writes to the systems.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Validate and show every write; change nothing.")]
AllowLargeOpt = Annotated[bool, typer.Option("--allow-large", help="Apply even past the brake.")]

workspace_app = typer.Typer(help="The workspace (pybaton.yaml): its systems and their syncs.", no_args_is_help=True)


def _workspace(path: str | None, log_level: str, *, resolve: bool = False) -> Workspace:
    """Load the workspace and set up logging; ``resolve``: read every system's settings now (secrets from
    the environment), so a missing variable fails first and every secret is scrubbed from the logs."""
    if log_level not in LEVELS:
        raise UsageError(f"--log-level must be one of {', '.join(LEVELS)}")
    ws = load_workspace(path)
    configure(log_level, secrets=ws.resolve_secrets() if resolve else ())
    return ws


def _enabled(ws: Workspace, flag: bool) -> bool:
    env = os.environ.get("BATON_PROVISIONING", "").strip().lower() in ("1", "true", "yes", "on")
    return flag or env or ws.spec.provisioning


# -- workspace sync / check ------------------------------------------------------------------------

@workspace_app.command("sync")
def sync_command(
    systems: Annotated[list[str] | None, typer.Argument(help="Systems to sync (default: all).",
                                                        show_default=False)] = None,
    workspace: WorkspaceOpt = None, log_level: LogLevelOpt = "warn",
) -> None:
    """Sync every system of the workspace (or the named ones) concurrently, each into data_dir/NAME.c1z."""
    ws = _workspace(workspace, log_level, resolve=True)
    names = systems or list(ws.systems)
    for name in names:
        ws.system(name)  # an unknown name fails before anything starts
    board = SyncBoard(names)
    with workspace_lock(ws, "pybaton workspace sync"), board.live():
        results = sync_systems(ws, names, progress_for=board.progress_for, on_done=board.done)
    print_syncs(results)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


@workspace_app.command("check")
def check_command(workspace: WorkspaceOpt = None, policy: PolicyOpt = None) -> None:
    """Validate the workspace and its policy files (no system is contacted)."""
    ws = _workspace(workspace, "warn")
    loaded = load_policy(ws, policy)
    for name, spec in ws.systems.items():
        what = spec.connector or " ".join(spec.command or [])
        role = "identity provider" if spec.identity_provider else "read-only" if spec.read_only else "app"
        typer.echo(f"{name}: {what} ({role}) → {ws.c1z(name)}")
    typer.echo(f"{len(loaded.rule_ids())} rules in {', '.join(str(f) for f in loaded.files)}: "
               f"{', '.join(loaded.rule_ids()) or 'none'}")


# -- plan ------------------------------------------------------------------------------------------

def plan_command(
    ctx: typer.Context, workspace: WorkspaceOpt = None, policy: PolicyOpt = None, output: OutputOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Save the plan to apply it later "
                                             "(pybaton apply FILE).", show_default=False)] = None,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 2 when there is drift (actions or "
                                            "violations), 0 when there is none.")] = False,
    log_level: LogLevelOpt = "warn",
) -> None:
    """Desired (policy) versus actual (latest syncs): the ordered actions that would fix the drift."""
    opts = settings(ctx, None, output, None)
    require_format(opts, _TEXT, "plan")
    ws = _workspace(workspace, log_level)
    loaded = load_policy(ws, policy)
    plan = plan_now(ws, loaded)
    brakes = check_brakes(ws, plan, loaded.brake)
    if out is not None:
        plan.save(out)
    if opts.output is OutputFormat.JSON:
        emit_json({**plan.to_json(), "brake": [{"system": b.system, "removals": b.removals, "grants": b.grants,
                                                "tripped": b.tripped} for b in brakes]})
    else:
        print_plan(plan, brakes)
        if out is not None:
            typer.echo(f"plan saved to {out}; apply it with: pybaton apply {out} -p")
    if exit_code and (plan.actions or any(f.kind == "violation" for f in plan.findings)):
        raise typer.Exit(2)


# -- apply -----------------------------------------------------------------------------------------

def _print_report(report: ApplyReport, dry_run: bool) -> None:
    if not report.results:
        typer.echo("nothing to apply: the plan has no actions")
        return
    if dry_run:
        typer.echo(f"dry run: {report.count('planned')} actions validated, {len(report.failed)} refused; "
                   "nothing was changed")
        return
    typer.echo(f"applied: {report.count('done')} done, {report.count('already')} already so, "
               f"{len(report.failed)} failed, {report.count('braked')} held back by the brake")
    for sync in report.syncs:
        typer.echo(f"re-synced {sync.system}: " + (f"sync {sync.sync_id}" if sync.ok else f"FAILED: {sync.error}"))
    if report.remaining is not None:
        left = len(report.remaining.actions)
        typer.echo("verified: no drift left" if not left else f"after the re-sync {left} actions are still planned "
                   f"({len(report.unverified)} of them were just applied); they are retried on the next run")


def _report_json(report: ApplyReport) -> dict[str, object]:
    return {"results": [{"action": r.action.id, "kind": r.action.kind.value, "system": r.action.system,
                         "status": r.status, "message": r.message} for r in report.results],
            "braked": [b.describe() for b in report.braked],
            "resynced": [{"system": s.system, "ok": s.ok, "sync_id": s.sync_id, "error": s.error}
                         for s in report.syncs],
            "remaining": len(report.remaining.actions) if report.remaining is not None else None,
            "unverified": [a.id for a in report.unverified]}


def apply_command(
    ctx: typer.Context,
    plan_file: Annotated[Path | None, typer.Argument(help="A plan saved by `pybaton plan --out` (default: plan "
                                                     "now from the latest syncs).", show_default=False)] = None,
    workspace: WorkspaceOpt = None, policy: PolicyOpt = None, output: OutputOpt = None,
    provisioning: ProvisioningOpt = False, dry_run: DryRunOpt = False, allow_large: AllowLargeOpt = False,
    log_level: LogLevelOpt = "warn",
) -> None:
    """Execute a plan through provisioning, then re-sync what it touched and verify the drift is gone."""
    opts = settings(ctx, None, output, None)
    require_format(opts, _TEXT, "apply")
    ws = _workspace(workspace, log_level, resolve=True)
    loaded = load_policy(ws, policy)
    console = opts.output is OutputFormat.CONSOLE
    options = ApplyOptions(_enabled(ws, provisioning), dry_run, allow_large, policy_brake=loaded.brake)

    def report(result: Result) -> None:
        if console:
            typer.echo(result_line(result))

    with workspace_lock(ws, "pybaton apply"):
        plan: Plan = load_plan(plan_file) if plan_file is not None else plan_now(ws, loaded)
        outcome = apply_plan(ws, plan, options, report=report,
                             replan=lambda: plan_now(ws, loaded, record_orphans=False))
    if console:
        _print_report(outcome, dry_run)
    else:
        emit_json(_report_json(outcome))
    if outcome.failed:
        raise typer.Exit(1)


# -- reconcile -------------------------------------------------------------------------------------

def _interval(text: str | None, once: bool) -> float | None:
    if once or text is None:
        return None
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}") from None
    if seconds <= 0:
        raise UsageError("--interval must be longer than 0")
    return seconds


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM (a service manager stopping the loop) ends it after the current cycle."""
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def loop_setup(workspace: str | None, log_level: str, interval: str | None, once: bool, provisioning: bool,
               dry_run: bool, allow_large: bool, verbose: bool,
               ) -> tuple[Workspace, float | None, ApplyOptions, threading.Event, Callable[[Result], None]]:
    """What a reconcile loop starts from (here and ``fleet reconcile``): the workspace, the interval, the
    options, the event SIGTERM sets, and the per-action reporter (``--verbose``)."""
    ws = _workspace(workspace, log_level, resolve=True)
    seconds = _interval(interval, once)
    options = ApplyOptions(_enabled(ws, provisioning), dry_run, allow_large)
    stop = threading.Event()
    _stop_on_signals(stop)

    def report(result: Result) -> None:
        if verbose:
            typer.echo(result_line(result))

    return ws, seconds, options, stop, report


def reconcile_command(
    workspace: WorkspaceOpt = None, policy: PolicyOpt = None,
    interval: Annotated[str | None, typer.Option("--interval", help="Run a cycle every INTERVAL (90s, 10m, "
                                                 "1h); without it (or with --once) one cycle.",
                                                 show_default=False)] = None,
    once: Annotated[bool, typer.Option("--once", help="One cycle, then exit.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="React to changes: incremental sync of a system with "
                                        "news (event feed, or every --interval), plan and apply for the people "
                                        "concerned (docs/incremental.md).")] = False,
    poll: Annotated[float, typer.Option("--poll", help="With --watch: seconds between event-feed polls.")] = 1.0,
    provisioning: ProvisioningOpt = False, dry_run: DryRunOpt = False, allow_large: AllowLargeOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Print each action's result too.")] = False,
    log_level: LogLevelOpt = "warn",
) -> None:
    """Sync → plan → apply → verify, once or every --interval; one summary line per cycle."""
    ws, seconds, options, stop, report = loop_setup(workspace, log_level, interval, once, provisioning, dry_run,
                                                    allow_large, verbose)

    def emit(line: str) -> None:
        typer.echo(line)
        sys.stdout.flush()  # a log collector reading the pipe sees each cycle when it ends

    if watch:
        from pybaton.reconcile.watch import watch_loop

        if poll <= 0:
            raise UsageError("--poll must be above 0")
        code = watch_loop(ws, policy, options, interval=seconds or 300.0, poll=poll, emit=emit, report=report,
                          stop=stop)
    else:
        code = run_loop(ws, policy, options, interval=seconds, emit=emit, report=report, stop=stop)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add the workspace commands to the ``pybaton`` app."""
    app.add_typer(workspace_app, name="workspace")
    identities.register(app)
    app.command("plan")(plan_command)
    app.command("apply")(apply_command)
    app.command("reconcile")(reconcile_command)


__all__ = ["register"]
