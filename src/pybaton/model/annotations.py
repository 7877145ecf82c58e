"""Annotations: the ``google.protobuf.Any`` list every Baton object carries.

Unknown annotation types are kept as opaque ``Any`` values, so a read → write
round trip never loses what a newer connector wrote.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from typing import TypeVar

from google.protobuf import any_pb2
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

TYPE_URL_PREFIX = "type.googleapis.com/"


def type_url(message_class: type[Message]) -> str:
    return TYPE_URL_PREFIX + message_class.DESCRIPTOR.full_name


def pack(message: Message) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(message)
    return out


def find(annotations: MutableSequence[any_pb2.Any], message_class: type[M]) -> M | None:
    """The first annotation of ``message_class``, unpacked, or None."""
    url = type_url(message_class)
    for ann in annotations:
        if ann.type_url == url:
            msg = message_class()
            ann.Unpack(msg)
            return msg
    return None


def has(annotations: MutableSequence[any_pb2.Any], message_class: type[Message]) -> bool:
    url = type_url(message_class)
    return any(ann.type_url == url for ann in annotations)


def put(annotations: MutableSequence[any_pb2.Any], message: Message) -> None:
    """Add ``message``, replacing an existing annotation of the same type."""
    remove(annotations, type(message))
    annotations.append(pack(message))


def remove(annotations: MutableSequence[any_pb2.Any], message_class: type[Message]) -> int:
    url = type_url(message_class)
    keep = [a for a in annotations if a.type_url != url]
    removed = len(annotations) - len(keep)
    if removed:
        del annotations[:]
        annotations.extend(keep)
    return removed
