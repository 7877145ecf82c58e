"""Acme Corp, the fictional company the ``demo`` connector serves.

Everything here is plain data computed without randomness: the same names, ids,
managers and access every time, so two syncs of a fresh database are identical
and tests can state exact expectations. The store (:mod:`.store`) writes it
into SQLite once; after that the database, not this module, is the truth (so
provisioning changes what the next sync sees).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

DOMAIN = "acme.example"
EPOCH = dt.datetime(2021, 3, 1, 9, 0, tzinfo=dt.UTC)

_FIRST = (
    "Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances",
    "Edsger", "Radia", "Donald", "Hedy", "John", "Sophie", "Tim", "Annie", "Guido", "Joan",
    "Bjarne", "Adele", "Niklaus", "Mary", "Leslie", "Shafi", "Vint", "Lynn", "Whitfield", "Evelyn",
    "Brian", "Carol", "Butler", "Jean", "Robin", "Karen", "Fernando", "Mae", "Andrew", "Susan",
    "Rob", "Ivan", "Elena", "Yukihiro", "Rasmus", "Anita", "Larry", "Fei-Fei", "Jim", "Marissa",
)
_LAST = (
    "Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
    "Dijkstra", "Perlman", "Knuth", "Lamarr", "Backus", "Wilson", "Berners-Lee", "Easley", "van Rossum", "Clarke",
    "Stroustrup", "Goldberg", "Wirth", "Keller", "Lamport", "Goldwasser", "Cerf", "Conway", "Diffie", "Berezin",
    "Kernighan", "Shaw", "Lampson", "Sammet", "Milner", "Jones", "Corbato", "Jemison", "Tanenbaum", "Kare",
    "Pike", "Sutherland", "Nguyen", "Matsumoto", "Lerdorf", "Borg", "Wall", "Li", "Gray", "Mayer",
)

# (department, team, title, how many). The first person of a department (team None) is its head,
# the first of a team its lead; the very first person is the CEO.
_ROSTER: tuple[tuple[str, str | None, str, int], ...] = (
    ("executive", None, "Chief Executive Officer", 1),
    ("engineering", None, "VP of Engineering", 1),
    ("engineering", "platform", "Platform Engineering Lead", 1),
    ("engineering", "platform", "Platform Engineer", 3),
    ("engineering", "sre", "SRE Lead", 1),
    ("engineering", "sre", "Site Reliability Engineer", 2),
    ("engineering", "frontend", "Frontend Lead", 1),
    ("engineering", "frontend", "Frontend Engineer", 3),
    ("engineering", "backend", "Backend Lead", 1),
    ("engineering", "backend", "Backend Engineer", 3),
    ("security", None, "Chief Information Security Officer", 1),
    ("security", None, "Security Engineer", 2),
    ("security", None, "GRC Analyst", 1),
    ("sales", None, "VP of Sales", 1),
    ("sales", None, "Account Executive", 4),
    ("sales", None, "Sales Development Rep", 3),
    ("marketing", None, "Head of Marketing", 1),
    ("marketing", None, "Marketing Manager", 2),
    ("marketing", None, "Content Writer", 2),
    ("finance", None, "Chief Financial Officer", 1),
    ("finance", None, "Controller", 1),
    ("finance", None, "Accountant", 2),
    ("people", None, "Head of People", 1),
    ("people", None, "HR Business Partner", 1),
    ("people", None, "Recruiter", 1),
    ("support", None, "Support Manager", 1),
    ("support", None, "Support Engineer", 5),
    ("legal", None, "General Counsel", 1),
    ("legal", None, "Paralegal", 2),
)

# Teams nest inside a department group or another team: engineering ⊃ platform ⊃ sre.
TEAM_PARENT = {"platform": "engineering", "sre": "platform", "frontend": "engineering", "backend": "engineering"}

SERVICE_ACCOUNT = "svc-deploy-bot"
DISABLED_TITLE = "Sales Development Rep"  # the last one left the company


@dataclass(frozen=True)
class Person:
    id: str
    display_name: str
    email: str
    department: str
    team: str | None
    title: str
    manager_id: str | None
    employee_id: str
    status: str = "enabled"
    account_type: str = "human"
    created_at: str = ""


@dataclass(frozen=True)
class Group:
    id: str
    display_name: str
    description: str


@dataclass(frozen=True)
class App:
    id: str
    display_name: str
    description: str
    help_url: str


@dataclass(frozen=True)
class Project:
    id: str
    app_id: str
    display_name: str
    description: str


@dataclass(frozen=True)
class ApiKey:
    id: str
    display_name: str
    owner_id: str
    created_by_id: str
    created_at: str
    expires_at: str


@dataclass(frozen=True)
class EntitlementRow:
    resource_type: str
    resource_id: str
    slug: str
    display_name: str
    purpose: str  # "assignment" | "permission"


@dataclass(frozen=True)
class Access:
    """One direct grant: ``principal_type:principal_id`` holds ``resource_type:resource_id:slug``."""

    resource_type: str
    resource_id: str
    slug: str
    principal_type: str
    principal_id: str


def _at(days: int) -> str:
    return (EPOCH + dt.timedelta(days=days)).isoformat()


def _login(first: str, last: str) -> str:
    return f"{first}.{last}".lower().replace(" ", "").replace("-", "")


def people() -> list[Person]:
    """The 50 employees plus the deploy bot, with managers following the roster's heads and leads."""
    out: list[Person] = []
    heads: dict[str, str] = {}
    leads: dict[str, str] = {}
    for department, team, title, count in _ROSTER:
        for _ in range(count):
            i = len(out)
            first, last = _FIRST[i], _LAST[(i * 17) % len(_LAST)]
            pid = _login(first, last)
            manager = _manager(department, team, heads, leads, out[0].id if out else None)
            if team is None:
                heads.setdefault(department, pid)
            else:
                leads.setdefault(team, pid)
            out.append(Person(pid, f"{first} {last}", f"{pid}@{DOMAIN}", department, team, title, manager,
                              f"E{1001 + i}", created_at=_at(i * 9)))
    out = _disable_last(out, DISABLED_TITLE)
    platform_lead = leads["platform"]
    out.append(Person(SERVICE_ACCOUNT, "Deploy Bot", f"deploy-bot@{DOMAIN}", "engineering", "platform",
                      "CI/CD service account", platform_lead, "", account_type="service", created_at=_at(200)))
    return out


def _manager(department: str, team: str | None, heads: dict[str, str], leads: dict[str, str],
             ceo: str | None) -> str | None:
    """Team members report to their lead, leads and staff to the head, heads to the CEO."""
    if team is not None and team in leads:
        return leads[team]
    return heads.get(department, ceo)


def _disable_last(persons: list[Person], title: str) -> list[Person]:
    last = max(i for i, p in enumerate(persons) if p.title == title)
    p = persons[last]
    persons[last] = Person(p.id, p.display_name, p.email, p.department, p.team, p.title, p.manager_id,
                           p.employee_id, status="disabled", created_at=p.created_at)
    return persons


def groups() -> list[Group]:
    """Company-wide, department, team and cross-cutting groups."""
    departments = sorted({d for d, _, _, _ in _ROSTER if d != "executive"})
    out = [Group("everyone", "Everyone", "Every employee of Acme Corp")]
    out += [Group(d, d.title(), f"The {d} department") for d in departments]
    out += [Group(t, t.upper() if t == "sre" else t.title(), f"The {t} team (inside {p})")
            for t, p in TEAM_PARENT.items()]
    out += [Group("leadership", "Leadership", "The CEO and department heads"),
            Group("managers", "Managers", "Everyone with direct reports"),
            Group("on-call", "On-call", "Who gets paged: SRE plus the backend lead")]
    return out


ROLES: tuple[tuple[str, str, str], ...] = (
    ("admin", "Administrator", "Full administrative access to Acme's internal console"),
    ("auditor", "Auditor", "Read-only access to audit logs and financial records"),
    ("billing-admin", "Billing administrator", "Manages invoices and payment methods"),
    ("security-reviewer", "Security reviewer", "Approves access requests and reviews findings"),
    ("support-agent", "Support agent", "Works customer tickets in the support console"),
)

APPS: tuple[App, ...] = (
    App("github", "GitHub", "Source code hosting", "https://github.com/acme-example"),
    App("jira", "Jira", "Issue tracking", "https://acme-example.atlassian.net"),
    App("aws", "AWS", "Production cloud account", "https://acme-example.signin.aws.amazon.com"),
    App("slack", "Slack", "Chat", "https://acme-example.slack.com"),
    App("salesforce", "Salesforce", "CRM", "https://acme-example.my.salesforce.com"),
    App("workday", "Workday", "HR system of record", "https://wd5.myworkday.com/acme-example"),
)

_APP_ENTITLEMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "github": (("read", "permission"), ("write", "permission"), ("admin", "permission")),
    "jira": (("browse", "permission"), ("edit", "permission"), ("admin", "permission")),
    "aws": (("viewer", "permission"), ("developer", "permission"), ("admin", "permission")),
    "slack": (("member", "assignment"), ("admin", "permission")),
    "salesforce": (("user", "assignment"), ("admin", "permission")),
    "workday": (("employee", "assignment"), ("hr-admin", "permission")),
}

PROJECTS: tuple[Project, ...] = (
    Project("github/platform-api", "github", "platform-api", "Public API service"),
    Project("github/web-app", "github", "web-app", "Customer-facing web application"),
    Project("github/infra", "github", "infra", "Terraform for every environment"),
    Project("jira/ENG", "jira", "ENG", "Engineering backlog"),
    Project("jira/SEC", "jira", "SEC", "Security findings"),
    Project("jira/SUP", "jira", "SUP", "Customer support escalations"),
)
PROJECT_SLUGS = (("viewer", "permission"), ("contributor", "permission"), ("maintainer", "permission"))



def api_keys() -> list[ApiKey]:
    """The deploy bot's keys, created by the platform lead; one long expired."""
    creator = _Directory(people())["Platform Engineering Lead"]
    return [ApiKey("deploy-bot-ci", "CI deploy key", SERVICE_ACCOUNT, creator, _at(210), _at(210 + 365 * 5)),
            ApiKey("deploy-bot-legacy", "Legacy deploy key (expired)", SERVICE_ACCOUNT, creator, _at(30), _at(395))]


def entitlement_rows() -> Iterator[EntitlementRow]:
    """Entitlements of apps and projects (groups and roles have static ones)."""
    for app_id, slugs in _APP_ENTITLEMENTS.items():
        for slug, purpose in slugs:
            yield EntitlementRow("app", app_id, slug, slug.replace("-", " ").title(), purpose)
    for project in PROJECTS:
        for slug, purpose in PROJECT_SLUGS:
            yield EntitlementRow("project", project.id, slug, slug.title(), purpose)


def access() -> Iterator[Access]:
    """Who holds what on day one: memberships, nesting, roles, app and project access."""
    staff = people()
    yield from _memberships(staff)
    yield from _nesting()
    yield from _rules(_Directory(staff))


def _memberships(staff: list[Person]) -> Iterator[Access]:
    humans = [p for p in staff if p.account_type == "human"]
    managers = {p.manager_id for p in humans if p.manager_id}
    heads: dict[str, str] = {}
    for p in humans:
        heads.setdefault(p.department, p.id)
    for p in humans:
        yield Access("group", "everyone", "member", "user", p.id)
        if p.department != "executive":
            yield Access("group", p.team or p.department, "member", "user", p.id)
        if heads[p.department] == p.id:
            yield Access("group", "leadership", "member", "user", p.id)
        if p.id in managers:
            yield Access("group", "managers", "member", "user", p.id)


def _nesting() -> Iterator[Access]:
    for team, parent in TEAM_PARENT.items():
        yield Access("group", parent, "member", "group", team)
    yield Access("group", "on-call", "member", "group", "sre")


class _Directory:
    """Look people up by title, so the rules below read like an access policy."""

    def __init__(self, staff: list[Person]) -> None:
        self._by_title: dict[str, str] = {}
        for p in staff:
            self._by_title.setdefault(p.title, p.id)

    def __getitem__(self, title: str) -> str:
        return self._by_title[title]


def _rules(who: _Directory) -> Iterator[Access]:
    group_rules: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
        ("app", "github", "read", ("engineering", "security")),
        ("app", "github", "write", ("engineering",)),
        ("app", "github", "admin", ("sre",)),
        ("app", "jira", "browse", ("everyone",)),
        ("app", "jira", "edit", ("engineering", "support", "security")),
        ("app", "aws", "viewer", ("engineering", "security")),
        ("app", "aws", "developer", ("platform", "backend")),
        ("app", "aws", "admin", ("sre",)),
        ("app", "slack", "member", ("everyone",)),
        ("app", "salesforce", "user", ("sales", "marketing", "support")),
        ("app", "workday", "employee", ("everyone",)),
        ("app", "workday", "hr-admin", ("people",)),
        ("project", "github/platform-api", "maintainer", ("platform",)),
        ("project", "github/platform-api", "contributor", ("backend",)),
        ("project", "github/platform-api", "viewer", ("security",)),
        ("project", "github/web-app", "maintainer", ("frontend",)),
        ("project", "github/web-app", "contributor", ("backend",)),
        ("project", "github/infra", "maintainer", ("sre",)),
        ("project", "github/infra", "contributor", ("platform",)),
        ("project", "github/infra", "viewer", ("security",)),
        ("project", "jira/ENG", "contributor", ("engineering",)),
        ("project", "jira/SEC", "contributor", ("security",)),
        ("project", "jira/SUP", "contributor", ("support",)),
        ("project", "jira/SUP", "viewer", ("engineering",)),
        ("role", "auditor", "assigned", ("finance",)),
        ("role", "security-reviewer", "assigned", ("security",)),
        ("role", "support-agent", "assigned", ("support",)),
    )
    for rtype, rid, slug, principals in group_rules:
        for g in principals:
            yield Access(rtype, rid, slug, "group", g)
    user_rules = (
        ("app", "github", "admin", who["VP of Engineering"]),
        ("app", "github", "write", SERVICE_ACCOUNT),
        ("app", "jira", "admin", who["Platform Engineering Lead"]),
        ("app", "aws", "developer", SERVICE_ACCOUNT),
        ("app", "slack", "admin", who["Head of People"]),
        ("app", "salesforce", "admin", who["VP of Sales"]),
        ("project", "github/platform-api", "contributor", SERVICE_ACCOUNT),
        ("role", "admin", "assigned", who["VP of Engineering"]),
        ("role", "admin", "assigned", who["SRE Lead"]),
        ("role", "auditor", "assigned", who["GRC Analyst"]),
        ("role", "billing-admin", "assigned", who["Chief Financial Officer"]),
    )
    for rtype, rid, slug, user in user_rules:
        yield Access(rtype, rid, slug, "user", user)
