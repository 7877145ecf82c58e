"""Go's protojson of listing rows as text, fast: each repeated part is converted once.

A grant listing repeats the same entitlement, resource, resource type and
principal across thousands of rows, and protobuf's JSON conversion costs tens of
microseconds a message. :class:`RowEncoder` writes the JSON text of a message
field by field (strings, booleans, integers, enums, repeated strings and
messages, ``Any`` with a known payload), and remembers the text of each
sub-message by its type and bytes (equal type and bytes: equal message, equal
JSON). Anything else (floats, bytes, maps, well-known types, enum numbers
without a name) goes to the reference conversion,
:func:`pybaton.cli.render.to_json_dict`, so the text is always
``json.dumps(to_json_dict(msg), ensure_ascii=False)``; ``tests/test_json_rows.py``
checks that on random messages. (Object members come in the order protobuf
lists them; ``Struct`` keys follow the map's iteration order, as before.)"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterable
from json.encoder import encode_basestring
from typing import Any

from google.protobuf import any_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from pybaton.cli.outputs import GrantParts, PlainGrant, grant_output
from pybaton.cli.render import OUTPUT_BATCH, keep_any, resolve_any, to_json_dict
from pybaton.pb.c1.connector.v2 import grant_pb2
from pybaton.pb.registry import ensure_registered

_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_STRING = FieldDescriptor.TYPE_STRING
_ENUM = FieldDescriptor.TYPE_ENUM
_BOOL = FieldDescriptor.TYPE_BOOL
_SMALL_INTS = frozenset({FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_SINT32,
                         FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32})
_BIG_INTS = frozenset({FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
                       FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64})
_ANY = "google.protobuf.Any"
# Messages unique to one row: caching their text would only evict the parts that do repeat.
_UNIQUE_PER_ROW = frozenset({"c1.connector.v2.Grant"})
_GRANT_ENTITLEMENT, _GRANT_PRINCIPAL, _GRANT_ID = (grant_pb2.Grant.DESCRIPTOR.fields_by_name[name].json_name
                                                   for name in ("entitlement", "principal", "id"))


class _Fallback(Exception):
    """This message needs the reference conversion."""


def reference_text(msg: Message) -> str:
    """The reference: protobuf's JSON conversion with Go's habits, dumped as the listings dump it."""
    return json.dumps(to_json_dict(msg), ensure_ascii=False)


def _dumps(value: str) -> str:
    """``json.dumps(value, ensure_ascii=False)`` of a string (its C core, without the call overhead)."""
    return encode_basestring(value)


class RowEncoder:
    """Encodes messages as Go's CLI JSON text, remembering the text of repeated sub-messages."""

    def __init__(self, limit: int = 300_000) -> None:
        ensure_registered()  # Any payloads resolve through the default descriptor pool
        self._limit = limit
        # Keyed by type and bytes: messages of different types can share their bytes.
        self._parts: dict[tuple[str, bytes], str | None] = {}
        self._shared: dict[int, tuple[Message, str]] = {}

    def encode(self, msg: Message) -> str:
        if msg.DESCRIPTOR.file.package == "google.protobuf":
            return reference_text(msg)  # well-known types have JSON forms of their own
        try:
            return self._fields(msg, [])
        except _Fallback:
            return reference_text(msg)

    def grant_output(self, parts: GrantParts) -> str:
        """The text of ``outputs.grant_output(parts)``, without building it: the looked-up parts are
        shared objects, so their text is remembered by identity."""
        grant = self.encode(parts[0])
        texts = [self._shared_text(part) for part in parts[1:]]
        if grant == "{}" or "{}" in texts:  # an empty part: presence rules are the reference's business
            return self.encode(grant_output(parts))
        ent, res, rtype, principal = texts
        return (f'{{"grant": {grant}, "entitlement": {ent}, "resource": {res}, "resourceType": {rtype}, '
                f'"principal": {principal}}}')

    def stored_grant(self, row: PlainGrant | GrantParts) -> str:
        """The text of a row of :func:`pybaton.cli.outputs.stored_grants`: a :class:`PlainGrant`'s grant is
        its entitlement's and principal's text (remembered by identity, like the looked-up parts) and its id,
        which is what encoding the parsed grant gives."""
        if not isinstance(row, PlainGrant):
            return self.grant_output(row)
        ent, who = row.entitlement, row.principal
        texts = [self._shared_text(ent.entitlement), self._shared_text(ent.resource),
                 self._shared_text(ent.resource_type), self._shared_text(who.principal)]
        if "{}" in texts:
            return self.grant_output(row.parts())
        grant_id = f', "{_GRANT_ID}": {_dumps(row.grant_id)}' if row.grant_id else ""
        return (f'{{"grant": {{"{_GRANT_ENTITLEMENT}": {self._shared_text(ent.ref)}, '
                f'"{_GRANT_PRINCIPAL}": {self._shared_text(who.ref)}{grant_id}}}, "entitlement": {texts[0]}, '
                f'"resource": {texts[1]}, "resourceType": {texts[2]}, "principal": {texts[3]}}}')

    def _shared_text(self, part: Message) -> str:
        found = self._shared.get(id(part))
        if found is None or found[0] is not part:
            found = self._shared[id(part)] = (part, self.encode(part))  # holding the part keeps its id unique
        return found[1]

    def _fields(self, msg: Message, pieces: list[str]) -> str:
        for field, value in msg.ListFields():
            text = self._repeated(field, value) if field.is_repeated else self._value(field, value)
            if text is not None:
                pieces.append(f'"{field.json_name}": {text}')
        return "{" + ", ".join(pieces) + "}"

    def _repeated(self, field: FieldDescriptor, values: Any) -> str | None:
        if field.type == _MESSAGE:
            entry = field.message_type
            if entry is None or entry.GetOptions().map_entry:
                raise _Fallback
            items = [text for text in map(self._part, values) if text is not None]
            return "[" + ", ".join(items) + "]" if items else None  # every Any dropped: no field, as in Go
        if field.type == _STRING:
            return "[" + ", ".join(map(_dumps, values)) + "]"
        raise _Fallback

    def _value(self, field: FieldDescriptor, value: Any) -> str:
        kind = field.type
        if kind == _STRING:
            return _dumps(value)
        if kind == _MESSAGE:
            text = self._part(value)
            if text is None:
                raise _Fallback  # a dropped singular Any: the reference clears the field
            return text
        if kind == _BOOL:
            return "true" if value else "false"
        if kind == _ENUM:
            found = field.enum_type.values_by_number.get(value) if field.enum_type is not None else None
            if found is None:
                raise _Fallback
            return f'"{found.name}"'
        if kind in _SMALL_INTS:
            return str(value)
        if kind in _BIG_INTS:
            return f'"{value}"'
        raise _Fallback  # floats, bytes: the reference's rules

    def _part(self, value: Any) -> str | None:
        """A sub-message's text (None: an ``Any`` of an unknown type, which Go drops)."""
        name: str = value.DESCRIPTOR.full_name
        if name in _UNIQUE_PER_ROW:
            return self.encode(value)
        key = (name, value.SerializeToString(deterministic=True))
        if key in self._parts:
            return self._parts[key]
        if len(self._parts) >= self._limit:
            self._parts.clear()  # bounded memory on listings with more distinct parts than the limit
        found = self._any(value) if name == _ANY else self.encode(value)
        self._parts[key] = found
        return found

    def _any(self, value: any_pb2.Any) -> str | None:
        payload = resolve_any(value)
        if payload is None:
            return None
        if _may_hold_any(payload.DESCRIPTOR):  # an Any inside may need dropping first
            if not keep_any(value):
                return None
            payload = resolve_any(value)
        if payload is None or payload.DESCRIPTOR.file.package == "google.protobuf":
            return reference_text(value)
        try:
            return self._fields(payload, [f'"@type": {_dumps(value.type_url)}'])
        except _Fallback:
            return reference_text(value)


_HOLDS_ANY: dict[str, bool] = {}


def _may_hold_any(desc: Any) -> bool:
    """Whether a message of this type can contain an ``Any`` at any depth (every type its fields reach)."""
    name: str = desc.full_name
    found = _HOLDS_ANY.get(name)
    if found is None:
        seen: set[str] = set()
        stack = [desc]
        while stack:
            current = stack.pop()
            if current.full_name not in seen:
                seen.add(current.full_name)
                stack.extend(f.message_type for f in current.fields if f.message_type is not None)
        found = _HOLDS_ANY[name] = _ANY in seen
    return found


def stream_json(field: str, items: Iterable[Message]) -> None:
    """Write ``{"<field>": [item, ...]}`` one item at a time (Go's shape; ``{}`` when empty).

    Identical to :func:`pybaton.cli.render.emit_json` of the list message, without holding the list.
    """
    encoder = RowEncoder()
    _stream(field, map(encoder.encode, items))


def stream_grants_json(rows: Iterable[PlainGrant | GrantParts]) -> None:
    """Go's grant listing (``GrantListOutput``) from :func:`pybaton.cli.outputs.stored_grants`
    (or :func:`~pybaton.cli.outputs.grant_parts`)."""
    encoder = RowEncoder()
    _stream("grants", map(encoder.stored_grant, rows))


def _stream(field: str, texts: Iterable[str]) -> None:
    """Write the items in batches: one large write costs far less than a small one per item."""
    out = sys.stdout
    items = iter(texts)
    batch = list(itertools.islice(items, OUTPUT_BATCH))
    if not batch:
        out.write("{}\n")
    else:
        out.write(f'{{"{field}": [' + ", ".join(batch))
        while batch := list(itertools.islice(items, OUTPUT_BATCH)):
            out.write(", " + ", ".join(batch))
        out.write("]}\n")
    out.flush()
