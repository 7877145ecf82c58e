"""The fleet commands: ``fleet worker|scheduler|sync|status|reconcile`` (Celery over Redis, docs/fleet.md).

Thin: load the workspace, then hand over to :mod:`pybaton.fleet`. Celery is
imported inside each command (after ``fleet worker`` has pointed the metrics
library at its directory); a missing ``fleet`` extra gets the usual message.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pybaton.cli.identities import WorkspaceOpt
from pybaton.cli.options import OutputOpt, settings
from pybaton.cli.read import show
from pybaton.cli.reconcile import (
    AllowLargeOpt,
    DryRunOpt,
    LogLevelOpt,
    PolicyOpt,
    ProvisioningOpt,
    _workspace,
    loop_setup,
)
from pybaton.cli.reconcile_render import SyncBoard, print_syncs
from pybaton.cli.render import Column, Listing
from pybaton.errors import UsageError
from pybaton.extras import optional_import
from pybaton.reconcile.workspace import Workspace

if TYPE_CHECKING:
    from pybaton.fleet.client import FleetClient

fleet_app = typer.Typer(help="Syncs, loads and reconcile spread over Celery workers (docs/fleet.md).",
                        no_args_is_help=True)

QueuesOpt = Annotated[list[str] | None, typer.Option("--queues", "-Q", help="Queues to serve (repeatable or "
                                                     "comma-separated; default: every queue the workspace names).",
                                                     show_default=False)]


@contextmanager
def _client(ws: Workspace) -> Iterator[FleetClient]:
    with optional_import("pybaton fleet"):
        from pybaton.fleet.client import FleetClient
    client = FleetClient(ws)
    try:
        yield client
    finally:
        client.close()


def _need_extra() -> None:
    """The ``fleet`` extra, checked before anything else (the metrics library is imported later, on purpose)."""
    with optional_import("pybaton fleet"):
        import celery  # noqa: F401
        import redis  # noqa: F401


def _bind(ws: Workspace) -> None:
    """Workers and beat find the workspace through the environment (pool processes inherit it)."""
    os.environ["PYBATON_WORKSPACE"] = str(ws.path)


@fleet_app.command("worker")
def worker_command(
    workspace: WorkspaceOpt = None, queues: QueuesOpt = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Tasks at once (processes).")] = 1,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Worker name (default: pybaton@HOST.PID).",
                                             show_default=False)] = None,
    metrics_port: Annotated[int | None, typer.Option("--metrics-port", envvar="PYBATON_METRICS_PORT",
                                                     help="Serve Prometheus metrics on this port.",
                                                     show_default=False)] = None,
    log_level: LogLevelOpt = "info",
) -> None:
    """A Celery worker serving the workspace's queues (several per host, many hosts, one workspace file)."""
    _need_extra()
    ws = _workspace(workspace, "warn" if log_level == "info" else log_level, resolve=True)
    _bind(ws)
    metrics_dir = tempfile.mkdtemp(prefix="pybaton-metrics-")
    atexit.register(shutil.rmtree, metrics_dir, True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    with optional_import("pybaton fleet"):
        from pybaton.fleet import metrics
        from pybaton.fleet.app import make_app
        from pybaton.fleet.settings import fleet_settings
    fleet = fleet_settings(ws)
    wanted = [q for given in queues or [] for q in given.split(",") if q] or sorted(
        {fleet.schedule(n).queue for n in ws.systems})
    if metrics_port is not None:
        metrics.serve(metrics_port)
    app = make_app(ws)
    argv = ["worker", "-Q", ",".join(wanted), "-c", str(concurrency), "-E", "-O", "fair",
            "--loglevel", {"warn": "WARNING"}.get(log_level, log_level.upper()), "--without-mingle"]
    app.worker_main([*argv, "-n", name] if name else argv)


@fleet_app.command("scheduler")
def scheduler_command(workspace: WorkspaceOpt = None, log_level: LogLevelOpt = "info") -> None:
    """Celery beat: enqueues each system on its ``every:`` (run one per fleet)."""
    _need_extra()
    ws = _workspace(workspace, "warn", resolve=True)
    _bind(ws)
    with optional_import("pybaton fleet"):
        from pybaton.fleet.app import make_app
    schedule_file = ws.data_dir / "fleet-beat-schedule"
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    make_app(ws).Beat(schedule=str(schedule_file), loglevel=log_level.upper().replace("WARN", "WARNING")).run()


@fleet_app.command("sync")
def sync_command(
    systems: Annotated[list[str] | None, typer.Argument(help="Systems to sync.", show_default=False)] = None,
    all_systems: Annotated[bool, typer.Option("--all", help="Every system of the workspace.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the syncs until they end (exit 1 if any fails).")]
    = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="With --wait: give up after this many "
                                                  "seconds.", show_default=False)] = None,
    workspace: WorkspaceOpt = None, log_level: LogLevelOpt = "warn",
) -> None:
    """Enqueue syncs now (on each system's queue); with --wait, a live table on a terminal, lines otherwise."""
    if bool(systems) == all_systems:
        raise UsageError("name the systems to sync, or give --all")
    _need_extra()
    ws = _workspace(workspace, log_level)
    with _client(ws) as client:
        tasks = client.enqueue_syncs(systems or None)
        if not wait:
            for system, task_id in tasks.items():
                typer.echo(f"{system}: queued (task {task_id})")
            return
        board = SyncBoard(list(tasks))

        def tick() -> None:
            for system in tasks:
                if board.rows[system].state == "running":
                    status = client.coordinator.status(system)
                    board.update(system, phase=f"{status.get('state', 'queued')} {status.get('worker', '')}".strip())

        with board.live():
            outcomes = client.wait(tasks, on_done=lambda o: board.done(_sync(o)), timeout=timeout, on_tick=tick)
    results = [_sync(outcomes[s]) for s in tasks]
    print_syncs(results)
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def _sync(outcome: dict[str, Any]) -> Any:
    from pybaton.fleet.client import system_sync

    return system_sync(outcome)


_STATUS_COLUMNS = ("system", "state", "worker", "last_success", "duration", "grants", "last_error", "queue",
                   "every", "sync_id", "error_at")


@fleet_app.command("status")
def status_command(
    ctx: typer.Context,
    systems: Annotated[list[str] | None, typer.Argument(help="Systems (default: all).", show_default=False)] = None,
    workspace: WorkspaceOpt = None, output: OutputOpt = None,
) -> None:
    """Per system: state (queued, running on which worker, ok, failed), last success, duration, grants, error."""
    opts = settings(ctx, None, output, None)
    _need_extra()
    ws = _workspace(workspace, "warn")
    with _client(ws) as client:
        rows = [row.as_dict() for row in client.status(systems or None)]

    def cell(name: str) -> Any:
        return lambda row: row[name]

    columns = [Column(n.replace("_", " "), n, cell(n), console=n not in ("sync_id", "error_at")) for n in
               _STATUS_COLUMNS]
    show(opts, {"systems": rows}, Listing("Fleet", "systems", columns, rows))


@fleet_app.command("reconcile")
def reconcile_command(
    workspace: WorkspaceOpt = None, policy: PolicyOpt = None,
    interval: Annotated[str | None, typer.Option("--interval", help="A cycle every INTERVAL (10m); without it "
                                                 "one cycle.", show_default=False)] = None,
    provisioning: ProvisioningOpt = False, dry_run: DryRunOpt = False, allow_large: AllowLargeOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Print each action's result too.")] = False,
    log_level: LogLevelOpt = "warn",
) -> None:
    """The reconcile cycle on the fleet: syncs in parallel, plan from the warehouse, apply per system, verify."""
    _need_extra()
    ws, seconds, options, stop, report = loop_setup(workspace, log_level, interval, False, provisioning, dry_run,
                                                    allow_large, verbose)
    with _client(ws) as client:
        while True:
            cycle = client.reconcile_cycle(policy, options, report)
            typer.echo(cycle.line())
            sys.stdout.flush()
            if seconds is None or stop.wait(seconds):
                break
    if cycle.exit_code:
        raise typer.Exit(cycle.exit_code)


def register(app: typer.Typer) -> None:
    app.add_typer(fleet_app, name="fleet")



