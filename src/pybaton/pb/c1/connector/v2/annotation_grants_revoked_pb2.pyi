from pybaton.pb.c1.connector.v2 import grant_pb2 as _grant_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GrantsRevoked(_message.Message):
    __slots__ = ("grants",)
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    def __init__(self, grants: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ...) -> None: ...
