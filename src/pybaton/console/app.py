"""The console's web application: Starlette routes rendering Jinja2 templates over the warehouse.

Every page is rendered on the server (autoescaped templates, the access graph
as inline SVG); every table pages and sorts in SQL and exports CSV. Handlers
are plain functions (Starlette runs them in its thread pool) because the
warehouse is synchronous. Writes go only through the review store and
reconcile's apply; each one checks the role and the CSRF token and is recorded
in ``data_dir/console.audit.jsonl`` with the console user.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pybaton.console import graph, reviews
from pybaton.console.security import AuthSettings, csrf_ok, csrf_token, current_user
from pybaton.console.users import Role, User, authenticate
from pybaton.errors import UserError
from pybaton.provision.audit import AuditLog
from pybaton.reconcile.workspace import Workspace
from pybaton.warehouse import AsOf, Warehouse, parse_as_of, parse_moment
from pybaton.warehouse.browse import (
    holders_page,
    identity_accounts,
    match_kinds,
    resource_entitlements,
    search,
)

PAGE_SIZE = 50
AUDIT_FILE = "console.audit.jsonl"


@dataclass(frozen=True)
class ConsoleConfig:
    workspace: Workspace
    warehouse: Warehouse
    auth: AuthSettings
    secret_key: str
    https: bool = False
    provisioning: bool = False
    policy_paths: tuple[Path, ...] | None = None


class Forbidden(Exception):
    """The user's role does not allow this."""


class Console:
    """The handlers, with what they share: the workspace, the warehouse, the templates."""

    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.ws = config.workspace
        self.wh = config.warehouse
        self.templates = Environment(loader=PackageLoader("pybaton.console", "templates"),
                                     autoescape=select_autoescape(default=True, default_for_string=True))

    # -- plumbing ----------------------------------------------------------------------------------

    def render(self, request: Request, user: User, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(
            user=user, csrf=csrf_token(request), request=request, provisioning=self.config.provisioning,
            **context)
        return HTMLResponse(html, status_code=status)

    def page(self, role: Role, handler: Callable[[Request, User], Response]) -> Callable[[Request], Response]:
        """A GET handler for users with at least ``role``; others log in or are refused."""

        def endpoint(request: Request) -> Response:
            user = current_user(request, self.wh, self.config.auth)
            if user is None:
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            if not user.can(role):
                return self.render(request, user, "error.html", 403, message="your role does not allow this page")
            try:
                return handler(request, user)
            except UserError as exc:
                return self.render(request, user, "error.html", 400, message=str(exc))
        return endpoint

    def action(self, role: Role, handler: Callable[[Request, User, FormData], Response]
               ) -> Callable[[Request], Any]:
        """A POST handler: the user, their role and the CSRF token are checked before anything happens."""

        async def endpoint(request: Request) -> Response:
            form = await request.form()
            user = current_user(request, self.wh, self.config.auth)
            if user is None:
                return PlainTextResponse("login required", status_code=401)
            if not csrf_ok(request, _text(form, "csrf")):
                return PlainTextResponse("missing or wrong CSRF token: reload the page and try again",
                                         status_code=403)
            if not user.can(role):
                return PlainTextResponse("your role does not allow this", status_code=403)
            from starlette.concurrency import run_in_threadpool

            try:
                return await run_in_threadpool(handler, request, user, form)
            except (UserError, Forbidden) as exc:
                return self.render(request, user, "error.html", 400 if isinstance(exc, UserError) else 403,
                                   message=str(exc))
        return endpoint

    def audit(self, user: User, operation: str, target: dict[str, str], result: str = "ok") -> None:
        with AuditLog.open(self.ws.data_dir / AUDIT_FILE, "console", self.ws.redactor()) as log:
            log.record(operation, {"user": user.name, "role": user.role.value, **target}, dry_run=False,
                       result=result)

    # -- login -------------------------------------------------------------------------------------

    def login_form(self, request: Request) -> Response:
        html = self.templates.get_template("login.html").render(
            user=None, csrf=csrf_token(request), next=_safe_next(request.query_params.get("next")), error="")
        return HTMLResponse(html)

    async def login(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, _text(form, "csrf")):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        from starlette.concurrency import run_in_threadpool

        user = await run_in_threadpool(authenticate, self.wh, _text(form, "name"), _text(form, "password"))
        if user is None:
            html = self.templates.get_template("login.html").render(
                user=None, csrf=csrf_token(request), next=_safe_next(_text(form, "next")),
                error="wrong name or password")
            return HTMLResponse(html, status_code=401)
        request.session.clear()
        request.session["user"] = user.name
        return RedirectResponse(_safe_next(_text(form, "next")), status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, _text(form, "csrf")):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- reading pages -----------------------------------------------------------------------------

    def home(self, request: Request, user: User) -> Response:
        campaigns = reviews.list_campaigns(self.wh)
        return self.render(request, user, "home.html", systems=self.wh.status(), campaigns=campaigns)

    def search_page(self, request: Request, user: User) -> Response:
        q = request.query_params.get("q", "")
        with self.wh.reading() as conn:
            from pybaton.warehouse.asof import select_syncs

            hits = search(conn, select_syncs(conn, None), q)
        if request.query_params.get("format") == "csv":
            return _csv("search.csv", ("kind", "system", "key", "name", "detail"),
                        ([h.kind, h.system, h.key, h.name, h.detail] for h in hits))
        return self.render(request, user, "search.html", q=q, hits=hits)

    def person_page(self, request: Request, user: User) -> Response:
        who = request.query_params.get("who", "")
        as_of = _as_of(request)
        person, entries = self.wh.person_access(who, as_of=as_of)
        rows = _sorted(entries, request, ("system", "entitlement_id", "resource_name", "access", "principal_id"))
        if request.query_params.get("format") == "csv":
            return _entries_csv("person.csv", rows)
        focus = request.query_params.get("path") or None
        drawn = graph.build(person.name or who, entries, focus)
        offset = _offset(request)
        return self.render(request, user, "person.html", who=who, person=person, rows=rows[offset:offset + PAGE_SIZE],
                           total=len(rows), offset=offset, limit=PAGE_SIZE, graph=Markup(graph.svg(drawn)),
                           hidden=drawn.hidden, focus=focus, as_of=request.query_params.get("as_of", ""),
                           inherited=sum(1 for e in entries if e.access == "inherited"))

    def entitlement_page(self, request: Request, user: User) -> Response:
        entitlement = request.query_params.get("id", "")
        system = request.query_params.get("system") or None
        sort = request.query_params.get("sort", "principal")
        descending = request.query_params.get("dir") == "desc"
        as_of = _as_of(request)
        from pybaton.warehouse.asof import select_syncs

        with self.wh.reading() as conn:
            syncs = select_syncs(conn, as_of)
            if request.query_params.get("format") == "csv":
                page = holders_page(conn, syncs, entitlement, system=system, sort=sort, descending=descending,
                                    limit=1_000_000)
                return _entries_csv("holders.csv", page.rows)
            page = holders_page(conn, syncs, entitlement, system=system, sort=sort, descending=descending,
                                offset=_offset(request), limit=PAGE_SIZE)
        return self.render(request, user, "entitlement.html", entitlement=entitlement, system=system or "",
                           page=page, sort=sort, descending=descending, as_of=request.query_params.get("as_of", ""))

    def resource_page(self, request: Request, user: User) -> Response:
        rtype, rid = request.query_params.get("type", ""), request.query_params.get("id", "")
        from pybaton.warehouse.asof import select_syncs

        with self.wh.reading() as conn:
            ents = resource_entitlements(conn, select_syncs(conn, _as_of(request)), rtype, rid)
        return self.render(request, user, "resource.html", rtype=rtype, rid=rid, entitlements=ents)

    def changes_page(self, request: Request, user: User) -> Response:
        since_text = request.query_params.get("since", "7d")
        changes = self.wh.changes(parse_moment(since_text))
        changes.sort(key=lambda c: (c.to_sync, c.system, c.change, c.entitlement_id, c.principal_id))
        if request.query_params.get("format") == "csv":
            return _csv("changes.csv", ("system", "change", "entitlement", "principal", "access", "from", "to"),
                        ([c.system, c.change, c.entitlement_id, f"{c.principal_type}:{c.principal_id}", c.access,
                          c.from_sync, c.to_sync] for c in changes))
        by_system: dict[str, list[Any]] = {}
        for c in changes:
            by_system.setdefault(c.system, []).append(c)
        offset = _offset(request)
        return self.render(request, user, "changes.html", since=since_text, by_system=by_system,
                           changes=changes[offset:offset + PAGE_SIZE], total=len(changes), offset=offset,
                           limit=PAGE_SIZE)

    def identities_page(self, request: Request, user: User) -> Response:
        kind = request.query_params.get("kind", "orphans")
        with self.wh.reading() as conn:
            rows, total = identity_accounts(conn, kind, _offset(request), PAGE_SIZE)
            counts = match_kinds(conn)
        if request.query_params.get("format") == "csv":
            with self.wh.reading() as conn:
                rows, _ = identity_accounts(conn, kind, 0, 1_000_000)
            return _csv(f"{kind}.csv", ("system", "account", "name", "login", "email", "match", "kind", "person",
                                        "status"),
                        ([r.system, f"{r.resource_type_id}:{r.resource_id}", r.display_name, r.login, r.email,
                          r.match, r.kind, r.identity_id, r.status] for r in rows))
        return self.render(request, user, "identities.html", kind=kind, rows=rows, total=total,
                           offset=_offset(request), limit=PAGE_SIZE, counts=counts)

    # -- plans -------------------------------------------------------------------------------------

    def plan_files(self) -> list[Path]:
        folder = self.ws.data_dir / "reviews"
        return sorted(folder.glob("*.plan.json"), reverse=True) if folder.exists() else []

    def plan_page(self, request: Request, user: User) -> Response:
        from pybaton.reconcile import load_plan, load_policy, plan_now
        from pybaton.reconcile.brake import check_brakes

        chosen = request.query_params.get("file", "")
        if chosen:
            path = self._plan_file(chosen)
            plan = load_plan(path)
            brake = None
        else:
            policy = load_policy(self.ws, self.config.policy_paths)
            plan = plan_now(self.ws, policy, record_orphans=False)
            brake = policy.brake
        checks = check_brakes(self.ws, plan, brake)
        return self.render(request, user, "plan.html", plan=plan, checks=checks, file=chosen,
                           files=[p.name for p in self.plan_files()])

    def _plan_file(self, name: str) -> Path:
        for path in self.plan_files():
            if path.name == name:
                return path
        raise UserError(f"no saved plan {name!r}")

    def apply_plan(self, request: Request, user: User, form: FormData) -> Response:
        from pybaton.reconcile import (
            ApplyOptions,
            apply_plan,
            load_plan,
            load_policy,
            plan_now,
            warehousing,
            workspace_lock,
        )

        if not self.config.provisioning:
            raise UserError("provisioning is not enabled: start pybaton serve with -p (or set provisioning: true "
                            "in the workspace) to apply plans from the console")
        name = _text(form, "file")
        allow_large = _text(form, "allow_large") == "yes"
        with workspace_lock(self.ws, f"pybaton serve (apply by {user.name})"):
            if name:
                plan = load_plan(self._plan_file(name))
            else:
                plan = plan_now(self.ws, load_policy(self.ws, self.config.policy_paths), record_orphans=False)
            report = apply_plan(self.ws, plan, ApplyOptions(enabled=True, allow_large=allow_large),
                                report=lambda r: None)
            if not warehousing.configured(self.ws) and report.syncs:
                warehousing.load_systems(self.ws, self.wh, [s.system for s in report.syncs if s.ok])
        for result in report.results:
            self.audit(user, "apply", {"plan": name or "current", "action": result.action.id}, result.status)
        return self.render(request, user, "applied.html", report=report, file=name)

    # -- reviews -----------------------------------------------------------------------------------

    def reviews_page(self, request: Request, user: User) -> Response:
        return self.render(request, user, "reviews.html", campaigns=reviews.list_campaigns(self.wh),
                           systems=list(self.ws.systems))

    def create_review(self, request: Request, user: User, form: FormData) -> Response:
        scope = reviews.Scope(
            systems=_words(_text(form, "systems")), resource_types=_words(_text(form, "resource_types")),
            entitlements=_words(_text(form, "entitlements")), condition=_text(form, "condition").strip(),
            manager_attribute=_text(form, "manager_attribute").strip(),
            reviewers=_pairs(_text(form, "reviewers")), default_reviewer=_text(form, "default_reviewer").strip())
        campaign = reviews.create_campaign(self.ws, self.wh, _text(form, "name"), scope, _text(form, "due"),
                                           by=user.name)
        self.audit(user, "review create", {"campaign": campaign.campaign_id, "name": campaign.name})
        return RedirectResponse(f"/reviews/{campaign.campaign_id}", status_code=303)

    def review_page(self, request: Request, user: User) -> Response:
        campaign = reviews.get_campaign(self.wh, request.path_params["campaign"])
        mine_only = not user.can(Role.ADMIN)
        reviewer = user.name if mine_only else (request.query_params.get("reviewer") or None)
        sort = request.query_params.get("sort", "item")
        descending = request.query_params.get("dir") == "desc"
        pending = request.query_params.get("pending") == "1"
        if request.query_params.get("format") == "csv":
            everything, _ = reviews.items(self.wh, campaign.campaign_id, reviewer=reviewer, pending_only=pending,
                                          sort=sort, descending=descending, limit=None)
            return _csv(f"review-{campaign.campaign_id}-items.csv", reviews.EVIDENCE_COLUMNS,
                        ([row[c] for c in reviews.EVIDENCE_COLUMNS] for row in (i.as_row() for i in everything)))
        found, total = reviews.items(self.wh, campaign.campaign_id, reviewer=reviewer, pending_only=pending,
                                     sort=sort, descending=descending, offset=_offset(request), limit=PAGE_SIZE)
        progress = reviews.progress(self.wh, campaign.campaign_id)
        if mine_only:
            progress = [p for p in progress if p.reviewer == user.name]
        return self.render(request, user, "review.html", campaign=campaign, items=found, total=total,
                           offset=_offset(request), limit=PAGE_SIZE, progress=progress, reviewer=reviewer or "",
                           sort=sort, descending=descending, pending=pending)

    def decide(self, request: Request, user: User, form: FormData) -> Response:
        campaign_id = request.path_params["campaign"]
        pks = [int(v) for v in form.getlist("item") if isinstance(v, str) and v.isdigit()]
        decision = _text(form, "decision")
        only = None if user.can(Role.ADMIN) else user.name
        changed = reviews.decide(self.wh, campaign_id, pks, decision, _text(form, "comment"), by=user.name,
                                 only_reviewer=only)
        self.audit(user, f"review {decision}", {"campaign": campaign_id, "items": ",".join(map(str, pks)),
                                                 "changed": str(changed)})
        back = _safe_next(_text(form, "back")) if _text(form, "back") else f"/reviews/{campaign_id}"
        return RedirectResponse(back, status_code=303)

    def close_review(self, request: Request, user: User, form: FormData) -> Response:
        campaign_id = request.path_params["campaign"]
        plan = reviews.close_campaign(self.ws, self.wh, campaign_id, by=user.name)
        self.audit(user, "review close", {"campaign": campaign_id, "actions": str(len(plan.actions))})
        return RedirectResponse(f"/plan?file={reviews.plan_path(self.ws, campaign_id).name}", status_code=303)

    def evidence(self, request: Request, user: User) -> Response:
        campaign_id = request.path_params["campaign"]
        fmt = request.path_params["fmt"]
        self.audit(user, "review export", {"campaign": campaign_id, "format": fmt})
        if fmt == "xlsx":
            return Response(reviews.evidence_xlsx(self.wh, campaign_id),
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers=_attachment(f"review-{campaign_id}.xlsx"))
        return Response(reviews.evidence_csv(self.wh, campaign_id), media_type="text/csv",
                        headers=_attachment(f"review-{campaign_id}.csv"))

    # -- the application ---------------------------------------------------------------------------

    def routes(self) -> list[Route | Mount]:
        v, r, a = Role.VIEWER, Role.REVIEWER, Role.ADMIN
        return [
            Route("/", self.page(v, self.home)),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/search", self.page(v, self.search_page)),
            Route("/person", self.page(v, self.person_page)),
            Route("/entitlement", self.page(v, self.entitlement_page)),
            Route("/resource", self.page(v, self.resource_page)),
            Route("/changes", self.page(v, self.changes_page)),
            Route("/identities", self.page(v, self.identities_page)),
            Route("/plan", self.page(a, self.plan_page)),
            Route("/plan/apply", self.action(a, self.apply_plan), methods=["POST"]),
            Route("/reviews", self.page(r, self.reviews_page), methods=["GET"]),
            Route("/reviews", self.action(a, self.create_review), methods=["POST"]),
            Route("/reviews/{campaign}", self.page(r, self.review_page)),
            Route("/reviews/{campaign}/decide", self.action(r, self.decide), methods=["POST"]),
            Route("/reviews/{campaign}/close", self.action(a, self.close_review), methods=["POST"]),
            Route("/reviews/{campaign}/evidence.{fmt:str}", self.page(a, self.evidence)),
            Mount("/static", StaticFiles(packages=[("pybaton.console", "static")]), name="static"),
        ]


def create_app(config: ConsoleConfig) -> Starlette:
    console = Console(config)
    middleware = [Middleware(SessionMiddleware, secret_key=config.secret_key, session_cookie="pybaton_session",
                             same_site="strict", https_only=config.https, max_age=12 * 3600)]
    return Starlette(routes=console.routes(), middleware=middleware)


def new_secret() -> str:
    return secrets.token_urlsafe(48)


# -- small helpers -----------------------------------------------------------------------------------

def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def _pairs(text: str) -> dict[str, str]:
    """``pg=ann, ldap=bob`` → ``{"pg": "ann", "ldap": "bob"}``."""
    out: dict[str, str] = {}
    for word in _words(text):
        key, sep, value = word.partition("=")
        if not sep or not key or not value:
            raise UserError(f"reviewers: {word!r} is not SYSTEM=REVIEWER")
        out[key] = value
    return out


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//evil.example`` or a full URL)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _offset(request: Request) -> int:
    text = request.query_params.get("offset", "0")
    return int(text) if text.isdigit() else 0


def _as_of(request: Request) -> AsOf | None:
    return parse_as_of(request.query_params.get("as_of") or None)


def _sorted(entries: Sequence[Any], request: Request, keys: Sequence[str]) -> list[Any]:
    key = request.query_params.get("sort", keys[0])
    key = key if key in keys else keys[0]
    return sorted(entries, key=lambda e: getattr(e, key), reverse=request.query_params.get("dir") == "desc")


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv", headers=_attachment(name))


def _entries_csv(name: str, entries: Sequence[Any]) -> Response:
    if not entries:
        return _csv(name, ("system",), [])
    keys = list(entries[0].as_dict())
    return _csv(name, keys, ([e.as_dict()[k] for k in keys] for e in entries))


__all__ = ["ConsoleConfig", "create_app", "new_secret"]
