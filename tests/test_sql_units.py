"""The SQL meta-connector without servers: expressions, helpers, tokens, pagination, config, SQLite."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("cel")

from pybaton.connectors.sql import config as cfg
from pybaton.connectors.sql import functions, paging, tokens
from pybaton.connectors.sql.backends import SQLiteBackend, Target, resolve
from pybaton.connectors.sql.expr import Compiler, ExpressionError, preprocess, to_bool, to_text
from pybaton.connectors.sql.queries import QueryError, QueryRunner, SqlQuery
from pybaton.errors import ConfigError, FatalError

# -- expression preprocessing ----------------------------------------------------------------------


@pytest.mark.parametrize(("source", "expected"), [
    (".role_name == 'Admin'", "cols['role_name'] == 'Admin'"),
    ("string(.team_id) != resource.ID", "string(cols['team_id']) != resource.ID"),
    ("resource.profile.x", "resource.profile.x"),          # a dot after a letter is a member access
    ("a.b + .c", "a.b + cols['c']"),
    ("(.x)", "(cols['x'])"),
    ("1.5 + .5", "1.5 + cols['5']"),                        # digits before the dot: left alone
    ("'user@example.com'", "'user@example.com'"),           # in a literal, after a letter: left alone
    ("'Account .name'", "'Account cols['name']'"),         # in a literal, after a space: rewritten, as Go does
    ('"a .b"', "\"a cols['b']\""),
    ("member", '"member"'),                                 # a bare identifier is a string
    ("null", '"null"'),
    ("_x1", '"_x1"'),
    ("member ", "member "),                                 # not bare (trailing space): CEL as written
    (".é", ".é"),                                           # \w is ASCII in baton-sql's regexp
])
def test_preprocess(source: str, expected: str) -> None:
    assert preprocess(source) == expected


def _eval(source: str, **env: object) -> object:
    compiler = Compiler()
    expression = compiler.compile(source, "test", ["cols", "resource", "input"])
    compiler.check()
    return expression.value(env)


def test_shorthand_inside_literal_changes_the_string_as_baton_sql_does() -> None:
    assert _eval('"Account .name"', cols={"name": "x"}) == "Account cols['name']"


def test_expressions_evaluate_against_rows() -> None:
    row = {"name": "Alice", "n": 3, "maybe": None, "t": dt.datetime(2019, 4, 1, 9, 0)}
    assert _eval(".name", cols=row) == "Alice"
    assert _eval("'Hi ' + .name", cols=row) == "Hi Alice"
    assert _eval(".maybe == null ? 'service' : 'human'", cols=row) == "service"
    assert _eval(".n > 2", cols=row) is True
    assert _eval("string(.t)", cols=row) == "2019-04-01T09:00:00Z"
    assert _eval("string(.n) + '!'", cols=row) == "3!"
    assert _eval("resource.ID", resource={"ID": "r1"}) == "r1"
    assert _eval("has(input.x) ? input.x : null", input={}) is None


def test_null_column_is_empty_text_not_null_value() -> None:
    compiler = Compiler()
    expression = compiler.compile(".maybe", "test", ["cols"])
    assert expression.value({"cols": {"maybe": None}}) is None
    assert expression.text({"cols": {"maybe": None}}) == ""


def test_missing_column_names_the_field_and_columns() -> None:
    compiler = Compiler()
    expression = compiler.compile(".nope", "resource type 'user', list.map.id (app.yml:9)", ["cols"])
    with pytest.raises(ExpressionError, match=r"resource type 'user', list.map.id \(app.yml:9\).*columns: a"):
        expression.value({"cols": {"a": 1}})


def test_compile_problems_are_collected_with_sites() -> None:
    compiler = Compiler()
    compiler.compile("1 +", "site-a", ["cols"])
    compiler.compile("nosuch.x + 1", "site-b", ["cols"])
    compiler.compile("toupper(.x)", "site-c", ["cols"])
    with pytest.raises(ConfigError) as info:
        compiler.check()
    text = str(info.value)
    assert "site-a" in text and "does not compile" in text
    assert "site-b" in text and "unknown name(s) nosuch" in text
    assert "site-c" in text and "unknown function(s) toupper" in text


def test_macro_variables_are_not_unknown_names() -> None:
    assert _eval("input.xs.map(z, z * 2)[1]", input={"xs": [1, 2]}) == 4
    # As in baton-sql, a method call after a closing bracket is read as a column: write it another way.
    with pytest.raises(ConfigError, match="does not compile"):
        _eval("[1, 2].map(z, z * 2)[1]")


def test_to_text_and_to_bool() -> None:
    assert to_text(None) == ""
    assert to_text(True) == "true"
    assert to_text(dt.datetime(2020, 1, 2, 3, 4, 5)) == "2020-01-02T03:04:05Z"
    assert to_text(dt.date(2020, 1, 2)) == "2020-01-02"
    assert to_text(b"abc") == "abc"
    assert to_bool("true") and not to_bool("0") and to_bool(1)
    with pytest.raises(TypeError):
        to_bool("maybe")
    with pytest.raises(TypeError):
        to_bool(None)


# -- helper functions ------------------------------------------------------------------------------


def test_to_upper_and_lower() -> None:
    assert functions.to_upper("héllo") == "HÉLLO"
    assert functions.to_lower("FOO Bar") == "foo bar"
    assert _eval("toUpper(.u)", cols={"u": "ab"}) == "AB"
    assert _eval("'FOO' + toLower('BAR')") == "FOObar"
    with pytest.raises(ExpressionError):
        _eval("toUpper(.n)", cols={"n": 1})


@pytest.mark.parametrize(("text", "expected"), [
    ("hello world", "Hello World"), ("HELLO WORLD", "Hello World"), ("hElLo WoRlD", "Hello World"),
    ("", ""), ("a", "A"), ("a b", "A B"), ("123 abc", "123 Abc"), ("hello, world!", "Hello, World!"),
    ("hello-world!", "Hello-World!"), ("99 problems but a bug ain't one", "99 Problems But A Bug Ain't One"),
    ("  hello   world  ", "  Hello   World  "), ("goLang is FUN!", "Golang Is Fun!"),
    ("¡hola mundo!", "¡Hola Mundo!"), ("goé faire un tour", "Goé Faire Un Tour"),
])
def test_title_case_matches_go_cases_title(text: str, expected: str) -> None:
    assert functions.title_case(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Hello, World!", "hello-world"), ("GoLang_is Awesome", "golang-is-awesome"),
    (" This--is !a Test ", "this-is-a-test"), ("Complex_Example_42", "complex-example-42"),
    ("Multiple   Spaces", "multiple-spaces"), ("Zoë", "zo"),
])
def test_slugify(text: str, expected: str) -> None:
    assert functions.slugify(text) == expected


def test_php_serialize_and_deserialize() -> None:
    assert functions.php_serialize_string_array(["administrator"]) == 'a:1:{s:13:"administrator";b:1;}'
    assert functions.php_serialize_string_array([]) == "a:0:{}"
    assert functions.php_serialize_string_array(["é"]) == 'a:1:{s:2:"é";b:1;}'  # length in bytes
    assert functions.php_deserialize_string_array('a:1:{s:13:"administrator";b:1;}') == ["administrator"]
    serialized = 'a:2:{s:3:"foo";s:3:"bar";s:3:"baz";s:3:"qux";}'
    assert functions.php_deserialize_string_array(serialized) == ["foo", "baz"]
    assert functions.php_deserialize_string_array('a:2:{i:0;s:1:"x";s:1:"k";a:1:{i:0;N;}}') == ["k"]
    assert _eval("phpDeserializeStringArray(.caps)[0]", cols={"caps": 'a:1:{s:6:"editor";b:1;}'}) == "editor"
    assert _eval("phpSerializeStringArray(['subscriber'])") == 'a:1:{s:10:"subscriber";b:1;}'
    with pytest.raises(ValueError):
        functions.php_deserialize_string_array("not php")


# -- tokens ----------------------------------------------------------------------------------------


def test_token_parsing() -> None:
    found = tokens.parse("SELECT * FROM t WHERE a = ?<Name> AND b > ?<cursor> LIMIT ?<LIMIT> -- ?<tbl|unquoted>")
    assert [(t.key, t.reserved, t.unquoted) for t in found] == [
        ("name", False, False), ("cursor", True, False), ("limit", True, False), ("tbl", False, True)]
    assert tokens.parse("x ?<a|identifier>")[0].identifier
    with pytest.raises(tokens.TokenError, match="unknown option"):
        tokens.parse("?<a|bogus>")
    with pytest.raises(tokens.TokenError, match="exclude each other"):
        tokens.parse("?<a|unquoted,identifier>")
    assert tokens.parse("no tokens, ?<not a token> ? <x>") == []


def _bind(query: str, values: dict[str, object], dialect: tokens.Dialect = tokens.POSTGRES) -> tuple[str, list[object]]:
    return tokens.bind(query, tokens.parse(query), lambda t: values[t.key], dialect)


def test_binding_uses_placeholders_in_each_dialect() -> None:
    query = "SELECT 1 FROM t WHERE name LIKE 'a%' AND id = ?<id> AND n = ?<id>"
    assert _bind(query, {"id": 7}) == ("SELECT 1 FROM t WHERE name LIKE 'a%%' AND id = %s AND n = %s", [7, 7])
    assert _bind(query, {"id": 7}, tokens.MYSQL)[0].endswith("id = %s AND n = %s")
    assert _bind(query, {"id": 7}, tokens.SQLITE) == ("SELECT 1 FROM t WHERE name LIKE 'a%' AND id = ? AND n = ?",
                                                      [7, 7])
    hostile = "x'); drop table users; --"
    assert _bind("INSERT INTO t VALUES (?<v>)", {"v": hostile})[1] == [hostile]


def test_unquoted_and_identifier_tokens() -> None:
    assert _bind("SELECT * FROM ?<t|unquoted>", {"t": "users_2"}) == ("SELECT * FROM users_2", [])
    with pytest.raises(tokens.TokenError, match="not a plain identifier"):
        _bind("SELECT * FROM ?<t|unquoted>", {"t": "users; drop table x"})
    assert _bind('GRANT r TO ?<u|identifier>', {"u": 'a"b'})[0] == 'GRANT r TO "a""b"'
    assert _bind("GRANT r TO ?<u|identifier>", {"u": "a`b"}, tokens.MYSQL)[0] == "GRANT r TO `a``b`"
    with pytest.raises(tokens.TokenError, match="nothing provides"):
        _bind("?<missing>", {})


# -- pagination over a real SQLite database ---------------------------------------------------------


@pytest.fixture
def numbers(tmp_path: Path) -> QueryRunner:
    db = tmp_path / "n.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE n (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO n VALUES (?, ?)", [(i, f"row{i:02d}") for i in range(1, 8)])
        conn.execute("CREATE TABLE empty (id INTEGER PRIMARY KEY)")
    return QueryRunner(SQLiteBackend(Target("sqlite", database=str(db))))


def _pages(runner: QueryRunner, query: SqlQuery, size: int = 3) -> list[list[int]]:
    pages, token = [], ""
    while True:
        page = runner.page(query, {}, token, size)
        pages.append([row["id"] for row in page.rows])
        if not page.next_token:
            return pages
        token = page.next_token


def _query(text: str, strategy: str | None, primary_key: str = "id") -> SqlQuery:
    problems: list[str] = []
    pagination = cfg.Pagination(strategy=strategy, primary_key=primary_key) if strategy else None  # type: ignore[arg-type]
    query = SqlQuery.compile(text, "test query", pagination, [], problems)
    assert not problems
    return query


def test_offset_pagination_first_middle_last(numbers: QueryRunner) -> None:
    query = _query("SELECT id FROM n ORDER BY id LIMIT ?<limit> OFFSET ?<offset>", "offset")
    first = numbers.page(query, {}, "", 3)
    assert [r["id"] for r in first.rows] == [1, 2, 3] and first.next_token == "3"
    middle = numbers.page(query, {}, first.next_token, 3)
    assert [r["id"] for r in middle.rows] == [4, 5, 6] and middle.next_token == "6"
    last = numbers.page(query, {}, middle.next_token, 3)
    assert [r["id"] for r in last.rows] == [7] and last.next_token == ""
    # Beyond page two Go's offset*size+size would have asked for offset 12 and lost rows 7..
    assert _pages(numbers, query, 2) == [[1, 2], [3, 4], [5, 6], [7]]


def test_cursor_pagination_first_middle_last(numbers: QueryRunner) -> None:
    query = _query("SELECT id, name FROM n WHERE id > ?<cursor> ORDER BY id LIMIT ?<limit>", "cursor")
    first = numbers.page(query, {}, "", 3)
    assert [r["id"] for r in first.rows] == [1, 2, 3]
    assert paging.decode_cursor(first.next_token) == 3
    assert _pages(numbers, query, 3) == [[1, 2, 3], [4, 5, 6], [7]]
    text_keys = _query("SELECT id, name FROM n WHERE name > ?<cursor> ORDER BY name LIMIT ?<limit>", "cursor", "name")
    assert _pages(numbers, text_keys, 4) == [[1, 2, 3, 4], [5, 6, 7]]


def test_exact_multiple_of_the_page_size_ends_without_an_empty_page(numbers: QueryRunner) -> None:
    query = _query("SELECT id FROM n WHERE id <= 6 ORDER BY id LIMIT ?<limit> OFFSET ?<offset>", "offset")
    assert _pages(numbers, query, 3) == [[1, 2, 3], [4, 5, 6]]


def test_empty_result_in_every_strategy(numbers: QueryRunner) -> None:
    for text, strategy in (("SELECT id FROM empty ORDER BY id LIMIT ?<limit> OFFSET ?<offset>", "offset"),
                           ("SELECT id FROM empty WHERE id > ?<cursor> ORDER BY id LIMIT ?<limit>", "cursor"),
                           ("SELECT id FROM empty", None)):
        page = numbers.page(_query(text, strategy), {}, "", 3)
        assert page.rows == [] and page.next_token == ""


def test_no_pagination_reads_everything_in_one_page(numbers: QueryRunner) -> None:
    page = numbers.page(_query("SELECT id FROM n ORDER BY id", None), {}, "", 2)
    assert len(page.rows) == 7 and page.next_token == ""


def test_config_page_size_wins_and_is_clamped() -> None:
    assert paging.page_size(cfg.Pagination(strategy="offset", page_size=25), 100) == 25
    assert paging.page_size(cfg.Pagination(strategy="offset"), 100) == 100
    assert paging.page_size(cfg.Pagination(strategy="offset", page_size=10**9), 100) == paging.MAX_PAGE_SIZE


def test_malformed_tokens_are_fatal(numbers: QueryRunner) -> None:
    query = _query("SELECT id FROM n ORDER BY id LIMIT ?<limit> OFFSET ?<offset>", "offset")
    with pytest.raises(FatalError, match="malformed offset"):
        numbers.page(query, {}, "abc", 3)
    with pytest.raises(FatalError, match="malformed cursor"):
        paging.decode_cursor("{not json")


def test_missing_primary_key_column_is_reported(numbers: QueryRunner) -> None:
    query = _query("SELECT name FROM n WHERE id > ?<cursor> ORDER BY id LIMIT ?<limit>", "cursor")
    with pytest.raises(FatalError, match="primary_key 'id' is not a column"):
        numbers.page(query, {}, "", 2)


def test_database_errors_name_the_query_site(numbers: QueryRunner) -> None:
    with pytest.raises(QueryError, match=r"test query: database error: no such table: nope"):
        numbers.rows(_query("SELECT * FROM nope", None), {})


def test_token_checks_at_compile_time() -> None:
    problems: list[str] = []
    SqlQuery.compile("SELECT ?<limit>", "q1", None, [], problems)
    SqlQuery.compile("SELECT ?<who>", "q2", None, ["other"], problems)
    SqlQuery.compile("SELECT 1 LIMIT ?<limit>", "q3", cfg.Pagination(strategy="cursor"), [], problems)
    assert any("q1" in p and "needs a pagination section" in p for p in problems)
    assert any("q2" in p and "not defined" in p for p in problems)
    assert any("q3" in p and "primary_key" in p for p in problems)


# -- config -----------------------------------------------------------------------------------------

_CONFIG = """\
app_name: t
connect:
  dsn: sqlite:///tmp/x.db
resource_types:
  user:
    list:
      query: SELECT id FROM users
      map:
        id: .id
        display_name: .id
        traits:
          user:
            employee_id: [.id]
"""


def test_unknown_keys_warn_with_line_and_strict_fails() -> None:
    loaded = cfg.loads(_CONFIG, source="app.yml")
    assert [str(i) for i in loaded.issues] == [
        "app.yml:13: resource_types.user.list.map.traits.user.employee_id: unknown key 'employee_id' "
        "(baton-sql ignores it; known here: account_type, emails, employee_ids, last_login, login, "
        "login_aliases, manager_email, manager_id, mfa_enabled, profile, sso_enabled, status, status_details)"]
    with pytest.raises(ConfigError, match=r"app.yml:13: .*employee_id"):
        cfg.loads(_CONFIG, source="app.yml", strict=True)


def test_schema_errors_name_key_and_line() -> None:
    text = _CONFIG.replace("      query: SELECT id FROM users\n",
                           "      query: SELECT id FROM users\n      pagination:\n        strategy: pages\n")
    with pytest.raises(ConfigError, match=r"app.yml:9: resource_types.user.list.pagination.strategy"):
        cfg.loads(text, source="app.yml")


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(ConfigError, match=r"app.yml:2: not valid YAML"):
        cfg.loads("a: [1,\nb: }", source="app.yml")


def test_env_expansion_and_overrides() -> None:
    connect = cfg.Connect(dsn="mysql://${U}:${P}@${H}:3306/db?charset=utf8mb4", user="override")
    target = resolve(connect, {"U": "dsn-user", "P": "p@ss:w/rd", "H": "db.local"})
    assert (target.engine, target.host, target.port, target.database) == ("mysql", "db.local", "3306", "db")
    assert target.user == "override" and target.password == "p@ss:w/rd" and target.params["charset"] == "utf8mb4"
    assert "p@ss" not in target.describe() and "p@ss" not in repr(target)
    with pytest.raises(ConfigError, match=r"environment variable.*H"):
        resolve(cfg.Connect(dsn="postgres://${H}/x"), {})


@pytest.mark.parametrize("dsn", ["sqlserver://u:p@h/db", "oracle://u:p@h/db", "mssql://h"])
def test_sql_server_and_oracle_are_refused_clearly(dsn: str) -> None:
    with pytest.raises(ConfigError, match="not supported by pybaton yet"):
        resolve(cfg.Connect(dsn=dsn), {})


def test_sqlite_dsn_forms() -> None:
    assert resolve(cfg.Connect(dsn="sqlite:///tmp/a.db"), {}).database == "/tmp/a.db"
    assert resolve(cfg.Connect(dsn="sqlite:////tmp/a.db"), {}).database == "/tmp/a.db"
    assert resolve(cfg.Connect(dsn="sqlite://rel.db"), {}).database == "rel.db"
