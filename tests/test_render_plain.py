"""The plain table printer (pipes and files) writes exactly what Rich writes, only faster."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pybaton.cli.render import _plain_lines, _rich_lines, _Table

# Printable text, including wide (CJK, emoji) and combining characters, and spaces at either end.
cells = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12) \
    | st.sampled_from(["", " ", "group:g00500:member", "名前", "😀x", "e\u0301", " lead", "trail "])


@st.composite
def tables(draw: st.DrawFn) -> _Table:
    ncols = draw(st.integers(1, 5))
    headers = draw(st.lists(cells.filter(lambda s: s.strip() != ""), min_size=ncols, max_size=ncols))
    rows = draw(st.lists(st.lists(cells, min_size=ncols, max_size=ncols), max_size=6))
    return _Table(draw(st.sampled_from(["Grants", "By resource type", ""])), headers, rows)


@settings(max_examples=300, deadline=None)
@given(tables())
def test_plain_table_equals_rich(table: _Table) -> None:
    plain = _plain_lines(table)
    if plain is not None:  # None: the printer hands the table to Rich
        assert plain == _rich_lines(table)


def test_unprintable_cells_go_to_rich() -> None:
    assert _plain_lines(_Table("T", ["a"], [["two\nlines"]])) is None
    assert _plain_lines(_Table("T", ["a"], [["tab\there"]])) is None
    assert _plain_lines(_Table("T", ["\U0001f3fb", "x"], [["a", "b"]])) is None  # a lone emoji modifier: no width
