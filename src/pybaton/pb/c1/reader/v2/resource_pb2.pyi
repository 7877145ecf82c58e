from pybaton.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceTypesReaderServiceGetResourceTypeRequest(_message.Message):
    __slots__ = ("resource_type_id", "annotations")
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, resource_type_id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class ResourceTypesReaderServiceGetResourceTypeResponse(_message.Message):
    __slots__ = ("resource_type",)
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    resource_type: _resource_pb2.ResourceType
    def __init__(self, resource_type: _Optional[_Union[_resource_pb2.ResourceType, _Mapping]] = ...) -> None: ...

class ResourcesReaderServiceGetResourceRequest(_message.Message):
    __slots__ = ("resource_id", "annotations")
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    resource_id: _resource_pb2.ResourceId
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, resource_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class ResourcesReaderServiceGetResourceResponse(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: _resource_pb2.Resource
    def __init__(self, resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ...) -> None: ...
