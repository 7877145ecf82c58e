from pybaton.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExternalResourceMatch(_message.Message):
    __slots__ = ("resource_type", "key", "value")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    resource_type: _resource_pb2.ResourceType.Trait
    key: str
    value: str
    def __init__(self, resource_type: _Optional[_Union[_resource_pb2.ResourceType.Trait, str]] = ..., key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ExternalResourceMatchAll(_message.Message):
    __slots__ = ("resource_type",)
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    resource_type: _resource_pb2.ResourceType.Trait
    def __init__(self, resource_type: _Optional[_Union[_resource_pb2.ResourceType.Trait, str]] = ...) -> None: ...

class ExternalResourceMatchID(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class BatonID(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
