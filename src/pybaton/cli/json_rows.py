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

import json
import sys
from collections.abc import Iterable
from json.encoder import encode_basestring
from typing import Any

from google.protobuf import any_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from pybaton.cli.outputs import GrantParts, grant_output
from pybaton.cli.render import keep_any, resolve_any, to_json_dict
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
        self._plans: dict[str, dict[int, tuple[str, type[Message] | None]]] = {}

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
        grant = self._stored_text(parts.grant, parts.data)
        texts = [self._shared_text(part) for part in parts[1:5]]
        if grant == "{}" or "{}" in texts:  # an empty part: presence rules are the reference's business
            return self.encode(grant_output(parts))
        ent, res, rtype, principal = texts
        return (f'{{"grant": {grant}, "entitlement": {ent}, "resource": {res}, "resourceType": {rtype}, '
                f'"principal": {principal}}}')

    def _stored_text(self, msg: Message, data: bytes) -> str:
        """The text of ``msg``, read off ``data`` (its stored encoding) where that is in the plain form.

        A grant is unique to its row, but its fields are not: its entitlement
        and principal references repeat across rows. When ``data`` is a run of
        fields in field-number order, each once, each a string or a plain
        sub-message (:func:`_wire_plan`), the text is put together from the
        sub-messages' remembered text, keyed by their bytes (which parse to
        exactly the sub-message ``msg`` holds), without touching ``msg``. Any
        other shape goes through :meth:`encode`.
        """
        plan = self._plans.get(msg.DESCRIPTOR.full_name)
        if plan is None:
            plan = self._plans[msg.DESCRIPTOR.full_name] = _wire_plan(msg)
        fields = _split_fields(data) if data and plan else None
        if fields is None:
            return self.encode(msg)
        pieces: list[str] = []
        for number, raw in fields:
            spec = plan.get(number)
            if spec is None:
                return self.encode(msg)
            name, factory = spec
            if factory is None:  # a string: proto3 leaves an empty one out
                try:
                    value = raw.decode()
                except UnicodeDecodeError:
                    return self.encode(msg)
                if not value:
                    continue
                text = _dumps(value)
            else:
                text = self._raw_part(factory, raw)
            pieces.append(f'"{name}": {text}')
        return "{" + ", ".join(pieces) + "}"

    def _raw_part(self, factory: type[Message], raw: bytes) -> str:
        """The text of a plain sub-message stored as ``raw`` (remembered like :meth:`_part`'s)."""
        key = (factory.DESCRIPTOR.full_name, raw)
        found = self._parts.get(key)
        if found is None:
            if len(self._parts) >= self._limit:
                self._parts.clear()
            found = self._parts[key] = self.encode(factory.FromString(raw))
        return found

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


def _wire_plan(msg: Message) -> dict[int, tuple[str, type[Message] | None]]:
    """The fields :meth:`RowEncoder._stored_text` may read off the wire: field number -> (JSON name,
    message class, or None for a string). Singular strings without presence, and singular messages that
    are neither well-known types nor ``Any`` (whose JSON has rules of its own)."""
    plan: dict[int, tuple[str, type[Message] | None]] = {}
    for field in msg.DESCRIPTOR.fields:
        if field.is_repeated or field.number >= 16:  # one-byte tags only
            continue
        if field.type == _STRING and not field.has_presence:
            plan[field.number] = (field.json_name, None)
        elif field.type == _MESSAGE and field.message_type is not None \
                and field.message_type.file.package != "google.protobuf":
            plan[field.number] = (field.json_name, type(getattr(msg, field.name)))
    return plan


def _split_fields(data: bytes) -> list[tuple[int, bytes]] | None:
    """``data``'s top-level fields when all are length-delimited, one-byte-tagged and in strictly rising
    field-number order (how protobuf writes a message); None for any other shape."""
    fields: list[tuple[int, bytes]] = []
    last = 0
    i, size = 0, len(data)
    try:
        while i < size:
            tag = data[i]
            number = tag >> 3
            if tag & 0x87 != 2 or number <= last:  # multi-byte tag, not length-delimited, repeated, reordered
                return None
            length, shift = 0, 0
            i += 1
            while data[i] & 0x80:
                length |= (data[i] & 0x7F) << shift
                shift += 7
                i += 1
            length |= data[i] << shift
            i += 1
            if i + length > size:
                return None
            fields.append((number, data[i:i + length]))
            i += length
            last = number
    except IndexError:
        return None
    return fields


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


def stream_grants_json(rows: Iterable[GrantParts]) -> None:
    """Go's grant listing (``GrantListOutput``) from :func:`pybaton.cli.outputs.grant_parts`."""
    encoder = RowEncoder()
    _stream("grants", map(encoder.grant_output, rows))


def _stream(field: str, texts: Iterable[str]) -> None:
    out = sys.stdout
    first = True
    for text in texts:
        out.write(f'{{"{field}": [' if first else ", ")
        out.write(text)
        first = False
    out.write("{}\n" if first else "]}\n")
    out.flush()
