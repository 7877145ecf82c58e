from pybaton.pb.c1.connector.v2 import entitlement_pb2 as _entitlement_pb2
from pybaton.pb.c1.connector.v2 import grant_pb2 as _grant_pb2
from pybaton.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceDiff(_message.Message):
    __slots__ = ("created", "deleted", "modified")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    created: _containers.RepeatedCompositeFieldContainer[_resource_pb2.Resource]
    deleted: _containers.RepeatedCompositeFieldContainer[_resource_pb2.Resource]
    modified: _containers.RepeatedCompositeFieldContainer[_resource_pb2.Resource]
    def __init__(self, created: _Optional[_Iterable[_Union[_resource_pb2.Resource, _Mapping]]] = ..., deleted: _Optional[_Iterable[_Union[_resource_pb2.Resource, _Mapping]]] = ..., modified: _Optional[_Iterable[_Union[_resource_pb2.Resource, _Mapping]]] = ...) -> None: ...

class EntitlementDiff(_message.Message):
    __slots__ = ("created", "deleted", "modified")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    created: _containers.RepeatedCompositeFieldContainer[_entitlement_pb2.Entitlement]
    deleted: _containers.RepeatedCompositeFieldContainer[_entitlement_pb2.Entitlement]
    modified: _containers.RepeatedCompositeFieldContainer[_entitlement_pb2.Entitlement]
    def __init__(self, created: _Optional[_Iterable[_Union[_entitlement_pb2.Entitlement, _Mapping]]] = ..., deleted: _Optional[_Iterable[_Union[_entitlement_pb2.Entitlement, _Mapping]]] = ..., modified: _Optional[_Iterable[_Union[_entitlement_pb2.Entitlement, _Mapping]]] = ...) -> None: ...

class GrantDiff(_message.Message):
    __slots__ = ("created", "deleted", "modified")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    created: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    deleted: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    modified: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    def __init__(self, created: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ..., deleted: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ..., modified: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ...) -> None: ...

class C1ZDiffOutput(_message.Message):
    __slots__ = ("resources", "entitlements", "grants")
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    resources: ResourceDiff
    entitlements: EntitlementDiff
    grants: GrantDiff
    def __init__(self, resources: _Optional[_Union[ResourceDiff, _Mapping]] = ..., entitlements: _Optional[_Union[EntitlementDiff, _Mapping]] = ..., grants: _Optional[_Union[GrantDiff, _Mapping]] = ...) -> None: ...
