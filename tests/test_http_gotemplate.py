"""The ``tmpl:`` reader: the Go ``text/template`` subset baton-http configs use, and nothing that runs data."""

from __future__ import annotations

import pytest

from pybaton.connectors.http.gotemplate import GoTemplate, TemplateError

DATA = {"resource": {"id": "g1", "display_name": "Ops"}, "principal": {"id": "u 1", "traits": {
    "user": {"email": "ada@example.org", "emails": ["a@x", "b@x"]}}}, "n": 3.0, "flag": True,
        "pre_requests": {"user_details": {"body": {"username": "ada"}}}}


@pytest.mark.parametrize(("source", "rendered"), [
    ("/groups/{{.resource.id}}/members", "/groups/g1/members"),
    ("{{.principal.traits.user.email}}", "ada@example.org"),
    ("{{.pre_requests.user_details.body.username}}", "ada"),
    ("{{ .principal.id | urlquery }}", "u+1"),
    ('{{printf "%s-%d" .resource.id 7}}', "g1-7"),
    ('{{index .principal.traits.user.emails 1}}', "b@x"),
    ("{{len .principal.traits.user.emails}}", "2"),
    ("{{.n}} {{.flag}} [{{.missing.field}}]", "3 true []"),
    ("a  {{- .resource.id -}}  b", "ag1b"),
    ("x{{/* a comment */}}y", "xy"),
    ('{{print "lit" .resource.display_name}}', "litOps"),
    ("{{.resource.display_name | html}}", "Ops"),
])
def test_renders(source: str, rendered: str) -> None:
    template = GoTemplate.parse(source)
    assert template.render(DATA) == rendered


@pytest.mark.parametrize(("source", "message"), [
    ("{{if .flag}}x{{end}}", "'if' is not supported"),
    ("{{range .list}}{{.}}{{end}}", "'range' is not supported"),
    ("{{ resource.id }}", "unknown function 'resource'"),
    ("{{exec .cmd}}", "unknown function 'exec'"),
    ("{{.a .b}}", "only a function can take arguments"),
    ("{{.a | }}", "empty command"),
    ("open {{.a", "unclosed action"),
])
def test_refuses_at_parse_time(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        GoTemplate.parse(source)


def test_data_is_never_parsed() -> None:
    """Values that are themselves templates, or Go/JSON syntax, come out exactly as they went in."""
    template = GoTemplate.parse("<{{.x}}>")
    for odd in ("{{.principal.id}}", '" + 1 + "', "{{printf \"%s\" .y}}", "}}{{"):
        assert template.render({"x": odd, "principal": {"id": "SECRET"}, "y": "Y"}) == f"<{odd}>"


def test_roots_are_the_top_level_names_read() -> None:
    assert GoTemplate.parse("{{.resource.id}}/{{index .pre_requests.a.body 0}}/{{.}}").roots() == {
        "resource", "pre_requests"}
