from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ETag(_message.Message):
    __slots__ = ("value", "entitlement_id")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    value: str
    entitlement_id: str
    def __init__(self, value: _Optional[str] = ..., entitlement_id: _Optional[str] = ...) -> None: ...

class ETagMetadata(_message.Message):
    __slots__ = ("metadata",)
    METADATA_FIELD_NUMBER: _ClassVar[int]
    metadata: _struct_pb2.Struct
    def __init__(self, metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ETagMatch(_message.Message):
    __slots__ = ("entitlement_id",)
    ENTITLEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    entitlement_id: str
    def __init__(self, entitlement_id: _Optional[str] = ...) -> None: ...
