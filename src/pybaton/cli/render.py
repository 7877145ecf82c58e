"""Printing listings: JSON exactly as Go's ``baton -o json``, Rich tables, CSV.

JSON goes through protobuf's own JSON mapping (camelCase names, int64 as
strings, enums by name, ``Any`` with ``@type``), which is what Go's
``protojson`` produces; two Go habits are reproduced on top of it: ``Any``
payloads whose type is unknown are dropped rather than failing the listing,
and whole numbers print without ``.0``.

Console and CSV share one column list per listing (:class:`Column`): the
console shows the human columns, CSV every column with snake_case headers, so
a script never has to split ``type:id`` strings.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from google.protobuf import any_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from pybaton.pb.registry import ensure_registered

if TYPE_CHECKING:  # Rich is imported where it is used: a listing into a pipe or file never needs it
    from rich.console import Console
    from rich.table import Table

R = TypeVar("R")

# Rows per write of the long listings (JSON, CSV).
OUTPUT_BATCH = 1000

# -- stderr --------------------------------------------------------------------------------------


def _stderr() -> Console:
    from rich.console import Console

    # soft_wrap: a message is one line however narrow the terminal (or pipe) is.
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _styled_line(text: str, style: str) -> None:
    from rich.text import Text

    _stderr().print(Text(text, style=style))


def error_line(message: str) -> None:
    """The one red line a failed command leaves on stderr."""
    _styled_line(f"error: {message}", "bold red")


def warning_line(message: str) -> None:
    """A one-line warning on stderr (Go logs these at ERROR level and carries on)."""
    _styled_line(f"warning: {message}", "yellow")


# -- JSON ----------------------------------------------------------------------------------------


def resolve_any(any_msg: any_pb2.Any) -> Message | None:
    """The unpacked payload of an ``Any``, or None when its type is not in our descriptor pool."""
    name = any_msg.type_url.rsplit("/", 1)[-1]
    try:
        desc = descriptor_pool.Default().FindMessageTypeByName(name)
    except KeyError:
        return None
    payload: Message = message_factory.GetMessageClass(desc)()
    if not any_msg.Unpack(payload):
        return None
    return payload


def keep_any(msg: Message) -> bool:
    """Prune ``msg`` in place; False when it is an ``Any`` that must go (Go's ``dropUnresolvableAnyMessages``)."""
    if isinstance(msg, any_pb2.Any):
        payload = resolve_any(msg)
        if payload is None:
            return False
        before = payload.ByteSize()
        prune_unresolvable_any(payload)
        if payload.ByteSize() != before:
            msg.Pack(payload, type_url_prefix=msg.type_url.rsplit("/", 1)[0] + "/")
        return True
    prune_unresolvable_any(msg)
    return True


def prune_unresolvable_any(msg: Message) -> None:
    """Drop every ``Any`` (at any depth) whose type this build does not know."""
    for field, value in msg.ListFields():
        entry = field.message_type
        if field.type != FieldDescriptor.TYPE_MESSAGE or entry is None:
            continue
        if entry.GetOptions().map_entry:
            if entry.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for key in [k for k in value if not keep_any(value[k])]:
                    del value[key]
        elif field.is_repeated:
            kept = [item for item in value if keep_any(item)]
            if len(kept) != len(value):
                copies = [type(item)() for item in kept]
                for copy, item in zip(copies, kept, strict=True):
                    copy.CopyFrom(item)
                del value[:]
                value.extend(copies)
        elif not keep_any(value):
            msg.ClearField(field.name)


def _whole_numbers(value: Any) -> Any:
    """Print ``1.0`` as ``1`` like Go's protojson does for doubles and ``Struct`` numbers."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def to_json_dict(msg: Message) -> dict[str, Any]:
    """``msg`` in Go's protojson shape, as a dict."""
    ensure_registered()
    prune_unresolvable_any(msg)
    result: dict[str, Any] = _whole_numbers(json_format.MessageToDict(msg))
    return result


def emit_json(document: Message | dict[str, Any]) -> None:
    """Write one JSON document (a message, or a dict already in protojson shape) to stdout."""
    data = to_json_dict(document) if isinstance(document, Message) else document
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# -- tables --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column: its console header, its CSV name, how to read it from a row, and where it shows."""

    header: str
    name: str
    get: Callable[[R], str]
    console: bool = True
    csv: bool = True


@dataclass(frozen=True)
class Listing(Generic[R]):
    """A listing ready to print: the rows, the columns, and the noun for the count line."""

    title: str
    noun: str
    columns: Sequence[Column[R]]
    rows: Iterable[R]
    # Every CSV cell of a row in one call, equal to the CSV columns' values: for listings of millions of rows.
    csv_cells: Callable[[R], list[str]] | None = None


@dataclass(frozen=True)
class _Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]


def _rich_table(table_data: _Table) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=table_data.title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  title_justify="left", title_style="bold", header_style="bold")
    for header in table_data.headers:
        table.add_column(header, overflow="fold")
    for row in table_data.rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


_PIPE_WIDTH = 100_000
_RULE = "\u2500"


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _plain_lines(table: _Table) -> list[str] | None:
    """The table as Rich prints it into a pipe (no colour, unbounded width), without Rich's per-cell work.

    Rich lays a 1,000-row table out in about a second; this takes milliseconds.
    None when a cell needs Rich's full treatment (line breaks, tabs, control
    characters, text of no width) or the table is wider than the pipe width Rich is given.
    """
    grid = [table.headers, *table.rows]
    if not all(cell.isprintable() for row in grid for cell in row):
        return None
    sizes = [[_width(cell) for cell in row] for row in grid]
    if any(cell and size == 0 for row, row_sizes in zip(grid, sizes, strict=True)
           for cell, size in zip(row, row_sizes, strict=True)):
        return None  # text of no width (a lone combining mark or emoji modifier): Rich lays it out its own way
    widths = [max(col) for col in zip(*sizes, strict=True)]
    total = sum(widths) + 3 * (len(widths) - 1)
    if total > _PIPE_WIDTH - 1 or _width(table.title) > total:
        return None
    last = len(widths) - 1

    def line(row: Sequence[str], row_sizes: Sequence[int]) -> str:
        parts = [cell if i == last else cell + " " * (widths[i] - row_sizes[i])
                 for i, cell in enumerate(row)]
        return "   ".join(parts).rstrip()

    out = [table.title.rstrip()] if table.title else []
    out += [line(grid[0], sizes[0]), _RULE * total]
    out.extend(line(row, row_sizes) for row, row_sizes in zip(grid[1:], sizes[1:], strict=True))
    return out


def _surely_not_terminal() -> bool:
    """stdout is no terminal, and nothing in the environment would make Rich treat it as one.

    Rich's own answer needs Rich (tens of milliseconds to import); a listing into
    a pipe or file, the common case for scripts, does without. When unsure, ask Rich.
    """
    if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        return False
    try:
        return not sys.stdout.isatty()
    except ValueError:  # closed: Rich says "no terminal" too
        return True


def _print(*items: _Table | str) -> None:
    """Print to stdout: at the terminal's width there, unbounded and without padding into a pipe or file."""
    if not _surely_not_terminal():
        from rich.console import Console
        from rich.text import Text

        console = Console(highlight=False)
        if console.is_terminal:
            for item in items:
                console.print(_rich_table(item) if isinstance(item, _Table) else Text(item))
            return
    # A pipe or file gets whole ids (not columns folded at 80 characters) and no trailing blanks.
    lines: list[str] = []
    for item in items:
        plain = _plain_lines(item) if isinstance(item, _Table) else [item.rstrip()] if item.isprintable() else None
        lines.extend(plain if plain is not None else _rich_lines(item))
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def _rich_lines(item: _Table | str) -> list[str]:
    """``item`` printed by Rich into a pipe-wide console, trailing blanks removed."""
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, width=_PIPE_WIDTH, no_color=True)
    with console.capture() as captured:
        console.print(_rich_table(item) if isinstance(item, _Table) else Text(item))
    return [line.rstrip() for line in captured.get().splitlines()]


def count_line(count: int, noun: str) -> str:
    """``11 resources``, ``1 resource``: ``noun`` is the plural, and every listing's plural ends in ``s``."""
    return f"{count} {noun if count != 1 else noun.removesuffix('s')}"


def print_console(listing: Listing[Any]) -> None:
    """A Rich table of the console columns, then the count."""
    columns = [c for c in listing.columns if c.console]
    rows = [[c.get(r) for c in columns] for r in listing.rows]
    _print(_Table(listing.title, [c.header for c in columns], rows), count_line(len(rows), listing.noun))


def print_csv(listing: Listing[Any]) -> None:
    """Every column, snake_case headers, one row per item (RFC 4180 quoting)."""
    columns = [c for c in listing.columns if c.csv]
    buffer = io.StringIO()  # to stdout in batches: one large write costs far less than one per row
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    cells = listing.csv_cells or (lambda row: [c.get(row) for c in columns])
    rows = iter(listing.rows)
    while True:
        writer.writerows(map(cells, itertools.islice(rows, OUTPUT_BATCH)))
        text = buffer.getvalue()
        if not text:
            break
        sys.stdout.write(text)
        buffer.seek(0)
        buffer.truncate()
    sys.stdout.flush()


def print_tables(tables: Sequence[tuple[str, Sequence[str], Sequence[Sequence[str]]]]) -> None:
    """Several small tables (title, headers, rows) one after the other, e.g. for ``stats``."""
    items: list[_Table | str] = []
    for title, headers, rows in tables:
        items.extend([_Table(title, headers, rows), ""])
    _print(*items[:-1])
