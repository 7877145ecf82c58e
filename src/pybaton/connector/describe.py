"""What a connector can do and what it needs, as JSON: the ``capabilities`` and ``config`` commands.

Both answers are derived, never declared twice: capabilities come from the
Protocols each syncer implements, the config schema from the connector's
pydantic model. So what the commands print cannot drift from what the code does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from google.protobuf import json_format
from pydantic import SecretStr

from pybaton.connector.base import Connector, ResourceSyncer
from pybaton.connector.capabilities import (
    AccountCreationSchema,
    AccountCreator,
    CredentialRotator,
    EventFeed,
    Granter,
    ResourceDeleter,
    ResourceGetter,
)
from pybaton.connector.config import ConnectorConfig, FieldSpec, field_specs
from pybaton.pb.c1.connector.v2 import connector_pb2

# Our Protocols → Baton's capability enum. Listing is implied by being a syncer.
CAPABILITY_OF: tuple[tuple[type, connector_pb2.Capability], ...] = (
    (Granter, connector_pb2.CAPABILITY_PROVISION),
    (AccountCreator, connector_pb2.CAPABILITY_ACCOUNT_PROVISIONING),
    (ResourceDeleter, connector_pb2.CAPABILITY_RESOURCE_DELETE),
    (CredentialRotator, connector_pb2.CAPABILITY_CREDENTIAL_ROTATION),
    (ResourceGetter, connector_pb2.CAPABILITY_TARGETED_SYNC),
)

REDACTED = "<redacted>"


def syncer_capabilities(syncer: ResourceSyncer) -> list[connector_pb2.Capability]:
    """Baton capability values of one syncer, ``CAPABILITY_SYNC`` first."""
    caps = [connector_pb2.CAPABILITY_SYNC]
    caps.extend(cap for proto, cap in CAPABILITY_OF if isinstance(syncer, proto))
    return caps


def connector_capabilities(syncers: Sequence[ResourceSyncer]) -> connector_pb2.ConnectorCapabilities:
    """Baton's ``ConnectorCapabilities``: per resource type, and their union for the connector."""
    out = connector_pb2.ConnectorCapabilities()
    union: set[connector_pb2.Capability] = set()
    for syncer in syncers:
        caps = syncer_capabilities(syncer)
        union.update(caps)
        rtc = out.resource_type_capabilities.add(capabilities=caps)
        rtc.resource_type.CopyFrom(syncer.resource_type)
    out.connector_capabilities.extend(sorted(union))
    return out


def account_creation_schema(syncers: Iterable[ResourceSyncer]) -> connector_pb2.ConnectorAccountCreationSchema | None:
    """The first syncer's account-creation schema, as Baton's message (None when no syncer has one).

    Authors may return either the message's JSON shape (``{"field_map": {...}}``)
    or just the field map; both parse.
    """
    for syncer in syncers:
        if isinstance(syncer, AccountCreationSchema):
            raw = syncer.account_creation_schema()
            shaped = raw if {"field_map", "fieldMap"} & raw.keys() else {"field_map": raw}
            return json_format.ParseDict(shaped, connector_pb2.ConnectorAccountCreationSchema())
    return None


def capabilities_document(connector: Connector[Any]) -> dict[str, Any]:
    """What the ``capabilities`` command prints (protojson field names, enum names)."""
    syncers = connector.syncers()
    caps = connector_capabilities(syncers)
    if isinstance(connector, EventFeed):
        caps.connector_capabilities.append(connector_pb2.CAPABILITY_EVENT_FEED_V2)
    doc = json_format.MessageToDict(caps)
    schema = account_creation_schema(syncers)
    if schema is not None:
        doc["accountCreationSchema"] = json_format.MessageToDict(schema)
    return doc


# -- config schema -------------------------------------------------------------------------------

_SCALAR_NAMES: dict[Any, str] = {
    str: "string", int: "integer", float: "number", bool: "boolean", SecretStr: "string",
    Path: "path", dt.datetime: "datetime", dt.timedelta: "duration",
}


def _strip_optional(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if type(None) in get_args(annotation) and len(args) == 1:
        return args[0]
    return annotation


def type_name(annotation: Any) -> str:
    """A short, language-neutral name for a config field's type."""
    annotation = _strip_optional(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        return "enum"
    if origin in (list, tuple, set, frozenset):
        inner = get_args(annotation)
        return f"list[{type_name(inner[0])}]" if inner else "list"
    if origin is dict:
        return "map"
    return _SCALAR_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def choices_of(annotation: Any) -> tuple[str, ...]:
    """The allowed values of a ``Literal`` field (empty for anything else)."""
    annotation = _strip_optional(annotation)
    return tuple(str(a) for a in get_args(annotation)) if get_origin(annotation) is Literal else ()


def _shown_default(spec: FieldSpec) -> Any:
    if spec.secret:
        return REDACTED if spec.default not in (None, "") else None
    if isinstance(spec.default, SecretStr | Path):
        return str(spec.default)
    if isinstance(spec.default, tuple | set | frozenset):
        return list(spec.default)
    return spec.default


def field_document(spec: FieldSpec) -> dict[str, Any]:
    """One field of the ``config`` command's output; a secret's default is never shown."""
    doc: dict[str, Any] = {
        "name": spec.name, "flag": spec.flag, "env": spec.env, "type": type_name(spec.annotation),
        "required": spec.required, "default": _shown_default(spec), "secret": spec.secret,
        "description": spec.description,
    }
    choices = choices_of(spec.annotation)
    if choices:
        doc["choices"] = list(choices)
    return doc


def config_document(config_class: type[ConnectorConfig]) -> list[dict[str, Any]]:
    return [field_document(spec) for spec in field_specs(config_class)]
