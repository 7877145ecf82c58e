import datetime

from pybaton.pb.c1.connector.v2 import entitlement_pb2 as _entitlement_pb2
from pybaton.pb.c1.connector.v2 import grant_pb2 as _grant_pb2
from pybaton.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
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

class ResourceTypeOutput(_message.Message):
    __slots__ = ("resource_type",)
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    resource_type: _resource_pb2.ResourceType
    def __init__(self, resource_type: _Optional[_Union[_resource_pb2.ResourceType, _Mapping]] = ...) -> None: ...

class ResourceOutput(_message.Message):
    __slots__ = ("resource", "resource_type", "parent")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    resource: _resource_pb2.Resource
    resource_type: _resource_pb2.ResourceType
    parent: _resource_pb2.Resource
    def __init__(self, resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., resource_type: _Optional[_Union[_resource_pb2.ResourceType, _Mapping]] = ..., parent: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ...) -> None: ...

class EntitlementOutput(_message.Message):
    __slots__ = ("entitlement", "resource", "resource_type")
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    entitlement: _entitlement_pb2.Entitlement
    resource: _resource_pb2.Resource
    resource_type: _resource_pb2.ResourceType
    def __init__(self, entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., resource_type: _Optional[_Union[_resource_pb2.ResourceType, _Mapping]] = ...) -> None: ...

class GrantOutput(_message.Message):
    __slots__ = ("grant", "entitlement", "resource", "resource_type", "principal")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    grant: _grant_pb2.Grant
    entitlement: _entitlement_pb2.Entitlement
    resource: _resource_pb2.Resource
    resource_type: _resource_pb2.ResourceType
    principal: _resource_pb2.Resource
    def __init__(self, grant: _Optional[_Union[_grant_pb2.Grant, _Mapping]] = ..., entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., resource_type: _Optional[_Union[_resource_pb2.ResourceType, _Mapping]] = ..., principal: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ...) -> None: ...

class ResourceAccessOutput(_message.Message):
    __slots__ = ("resource_type", "resource", "entitlements")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    resource_type: _resource_pb2.ResourceType
    resource: _resource_pb2.Resource
    entitlements: _containers.RepeatedCompositeFieldContainer[_entitlement_pb2.Entitlement]
    def __init__(self, resource_type: _Optional[_Union[_resource_pb2.ResourceType, _Mapping]] = ..., resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., entitlements: _Optional[_Iterable[_Union[_entitlement_pb2.Entitlement, _Mapping]]] = ...) -> None: ...

class ResourceTypeListOutput(_message.Message):
    __slots__ = ("resource_types",)
    RESOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    resource_types: _containers.RepeatedCompositeFieldContainer[ResourceTypeOutput]
    def __init__(self, resource_types: _Optional[_Iterable[_Union[ResourceTypeOutput, _Mapping]]] = ...) -> None: ...

class ResourceListOutput(_message.Message):
    __slots__ = ("resources",)
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    resources: _containers.RepeatedCompositeFieldContainer[ResourceOutput]
    def __init__(self, resources: _Optional[_Iterable[_Union[ResourceOutput, _Mapping]]] = ...) -> None: ...

class EntitlementListOutput(_message.Message):
    __slots__ = ("entitlements",)
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    entitlements: _containers.RepeatedCompositeFieldContainer[EntitlementOutput]
    def __init__(self, entitlements: _Optional[_Iterable[_Union[EntitlementOutput, _Mapping]]] = ...) -> None: ...

class GrantListOutput(_message.Message):
    __slots__ = ("grants",)
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedCompositeFieldContainer[GrantOutput]
    def __init__(self, grants: _Optional[_Iterable[_Union[GrantOutput, _Mapping]]] = ...) -> None: ...

class ResourceAccessListOutput(_message.Message):
    __slots__ = ("principal", "access")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    principal: _resource_pb2.Resource
    access: _containers.RepeatedCompositeFieldContainer[ResourceAccessOutput]
    def __init__(self, principal: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., access: _Optional[_Iterable[_Union[ResourceAccessOutput, _Mapping]]] = ...) -> None: ...

class PrincipalsCompareOutput(_message.Message):
    __slots__ = ("missing", "extra", "base", "compared")
    MISSING_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    COMPARED_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedCompositeFieldContainer[ResourceOutput]
    extra: _containers.RepeatedCompositeFieldContainer[ResourceOutput]
    base: _containers.RepeatedCompositeFieldContainer[ResourceOutput]
    compared: _containers.RepeatedCompositeFieldContainer[ResourceOutput]
    def __init__(self, missing: _Optional[_Iterable[_Union[ResourceOutput, _Mapping]]] = ..., extra: _Optional[_Iterable[_Union[ResourceOutput, _Mapping]]] = ..., base: _Optional[_Iterable[_Union[ResourceOutput, _Mapping]]] = ..., compared: _Optional[_Iterable[_Union[ResourceOutput, _Mapping]]] = ...) -> None: ...

class SyncOutput(_message.Message):
    __slots__ = ("id", "started_at", "ended_at", "sync_token", "sync_type", "parent_sync_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    SYNC_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SYNC_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARENT_SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    sync_token: str
    sync_type: str
    parent_sync_id: str
    def __init__(self, id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sync_token: _Optional[str] = ..., sync_type: _Optional[str] = ..., parent_sync_id: _Optional[str] = ...) -> None: ...

class SyncListOutput(_message.Message):
    __slots__ = ("syncs",)
    SYNCS_FIELD_NUMBER: _ClassVar[int]
    syncs: _containers.RepeatedCompositeFieldContainer[SyncOutput]
    def __init__(self, syncs: _Optional[_Iterable[_Union[SyncOutput, _Mapping]]] = ...) -> None: ...
