import datetime

from pybaton.pb.c1.storage.v3 import refs_pb2 as _refs_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SyncType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNC_TYPE_UNSPECIFIED: _ClassVar[SyncType]
    SYNC_TYPE_FULL: _ClassVar[SyncType]
    SYNC_TYPE_PARTIAL: _ClassVar[SyncType]
    SYNC_TYPE_RESOURCES_ONLY: _ClassVar[SyncType]
    SYNC_TYPE_PARTIAL_UPSERTS: _ClassVar[SyncType]
    SYNC_TYPE_PARTIAL_DELETIONS: _ClassVar[SyncType]
SYNC_TYPE_UNSPECIFIED: SyncType
SYNC_TYPE_FULL: SyncType
SYNC_TYPE_PARTIAL: SyncType
SYNC_TYPE_RESOURCES_ONLY: SyncType
SYNC_TYPE_PARTIAL_UPSERTS: SyncType
SYNC_TYPE_PARTIAL_DELETIONS: SyncType

class StatusRecord(_message.Message):
    __slots__ = ("status", "details")
    class ResourceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RESOURCE_STATUS_UNSPECIFIED: _ClassVar[StatusRecord.ResourceStatus]
        RESOURCE_STATUS_ENABLED: _ClassVar[StatusRecord.ResourceStatus]
        RESOURCE_STATUS_DISABLED: _ClassVar[StatusRecord.ResourceStatus]
        RESOURCE_STATUS_DELETED: _ClassVar[StatusRecord.ResourceStatus]
    RESOURCE_STATUS_UNSPECIFIED: StatusRecord.ResourceStatus
    RESOURCE_STATUS_ENABLED: StatusRecord.ResourceStatus
    RESOURCE_STATUS_DISABLED: StatusRecord.ResourceStatus
    RESOURCE_STATUS_DELETED: StatusRecord.ResourceStatus
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    status: StatusRecord.ResourceStatus
    details: str
    def __init__(self, status: _Optional[_Union[StatusRecord.ResourceStatus, str]] = ..., details: _Optional[str] = ...) -> None: ...

class GrantExpandableRecord(_message.Message):
    __slots__ = ("entitlement_ids", "shallow", "resource_type_ids")
    ENTITLEMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    SHALLOW_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_IDS_FIELD_NUMBER: _ClassVar[int]
    entitlement_ids: _containers.RepeatedScalarFieldContainer[str]
    shallow: bool
    resource_type_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, entitlement_ids: _Optional[_Iterable[str]] = ..., shallow: _Optional[bool] = ..., resource_type_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GrantSourceRecord(_message.Message):
    __slots__ = ("resource_type_id", "resource_id", "entitlement_id", "is_direct")
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    IS_DIRECT_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    resource_id: str
    entitlement_id: str
    is_direct: bool
    def __init__(self, resource_type_id: _Optional[str] = ..., resource_id: _Optional[str] = ..., entitlement_id: _Optional[str] = ..., is_direct: _Optional[bool] = ...) -> None: ...

class ResourceTypeRecord(_message.Message):
    __slots__ = ("external_id", "display_name", "traits", "annotations", "discovered_at", "description", "sourced_externally")
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DISCOVERED_AT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCED_EXTERNALLY_FIELD_NUMBER: _ClassVar[int]
    external_id: str
    display_name: str
    traits: _containers.RepeatedScalarFieldContainer[str]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    discovered_at: _timestamp_pb2.Timestamp
    description: str
    sourced_externally: bool
    def __init__(self, external_id: _Optional[str] = ..., display_name: _Optional[str] = ..., traits: _Optional[_Iterable[str]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., discovered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., description: _Optional[str] = ..., sourced_externally: _Optional[bool] = ...) -> None: ...

class ResourceRecord(_message.Message):
    __slots__ = ("resource_type_id", "resource_id", "display_name", "description", "parent", "annotations", "discovered_at", "profile", "status", "created_at", "source_scope_key", "icon_asset_external_id")
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DISCOVERED_AT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SCOPE_KEY_FIELD_NUMBER: _ClassVar[int]
    ICON_ASSET_EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    resource_id: str
    display_name: str
    description: str
    parent: _refs_pb2.ResourceRef
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    discovered_at: _timestamp_pb2.Timestamp
    profile: _struct_pb2.Struct
    status: StatusRecord
    created_at: _timestamp_pb2.Timestamp
    source_scope_key: str
    icon_asset_external_id: str
    def __init__(self, resource_type_id: _Optional[str] = ..., resource_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., parent: _Optional[_Union[_refs_pb2.ResourceRef, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., discovered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[StatusRecord, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_scope_key: _Optional[str] = ..., icon_asset_external_id: _Optional[str] = ...) -> None: ...

class EntitlementRecord(_message.Message):
    __slots__ = ("external_id", "resource", "display_name", "description", "purpose", "annotations", "discovered_at", "slug", "grantable_to_resource_type_ids", "source_scope_key")
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    DISCOVERED_AT_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    GRANTABLE_TO_RESOURCE_TYPE_IDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SCOPE_KEY_FIELD_NUMBER: _ClassVar[int]
    external_id: str
    resource: _refs_pb2.ResourceRef
    display_name: str
    description: str
    purpose: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    discovered_at: _timestamp_pb2.Timestamp
    slug: str
    grantable_to_resource_type_ids: _containers.RepeatedScalarFieldContainer[str]
    source_scope_key: str
    def __init__(self, external_id: _Optional[str] = ..., resource: _Optional[_Union[_refs_pb2.ResourceRef, _Mapping]] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., purpose: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., discovered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., slug: _Optional[str] = ..., grantable_to_resource_type_ids: _Optional[_Iterable[str]] = ..., source_scope_key: _Optional[str] = ...) -> None: ...

class GrantRecord(_message.Message):
    __slots__ = ("external_id", "entitlement", "principal", "discovered_at", "expansion", "needs_expansion", "annotations", "sources", "source_scope_key")
    class SourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: GrantSourceRecord
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[GrantSourceRecord, _Mapping]] = ...) -> None: ...
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    DISCOVERED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPANSION_FIELD_NUMBER: _ClassVar[int]
    NEEDS_EXPANSION_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_SCOPE_KEY_FIELD_NUMBER: _ClassVar[int]
    external_id: str
    entitlement: _refs_pb2.EntitlementRef
    principal: _refs_pb2.PrincipalRef
    discovered_at: _timestamp_pb2.Timestamp
    expansion: GrantExpandableRecord
    needs_expansion: bool
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    sources: _containers.MessageMap[str, GrantSourceRecord]
    source_scope_key: str
    def __init__(self, external_id: _Optional[str] = ..., entitlement: _Optional[_Union[_refs_pb2.EntitlementRef, _Mapping]] = ..., principal: _Optional[_Union[_refs_pb2.PrincipalRef, _Mapping]] = ..., discovered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expansion: _Optional[_Union[GrantExpandableRecord, _Mapping]] = ..., needs_expansion: _Optional[bool] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., sources: _Optional[_Mapping[str, GrantSourceRecord]] = ..., source_scope_key: _Optional[str] = ...) -> None: ...

class AssetRecord(_message.Message):
    __slots__ = ("sync_id", "external_id", "content_type", "data", "discovered_at")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    DISCOVERED_AT_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    external_id: str
    content_type: str
    data: bytes
    discovered_at: _timestamp_pb2.Timestamp
    def __init__(self, sync_id: _Optional[str] = ..., external_id: _Optional[str] = ..., content_type: _Optional[str] = ..., data: _Optional[bytes] = ..., discovered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SyncRunRecord(_message.Message):
    __slots__ = ("sync_id", "type", "parent_sync_id", "started_at", "ended_at", "sync_token", "supports_diff", "linked_sync_id", "compacted", "ingest_invariant_generation", "ingest_invariant_coverage", "ingest_invariant_mode")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PARENT_SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    SYNC_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_DIFF_FIELD_NUMBER: _ClassVar[int]
    LINKED_SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    COMPACTED_FIELD_NUMBER: _ClassVar[int]
    INGEST_INVARIANT_GENERATION_FIELD_NUMBER: _ClassVar[int]
    INGEST_INVARIANT_COVERAGE_FIELD_NUMBER: _ClassVar[int]
    INGEST_INVARIANT_MODE_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    type: SyncType
    parent_sync_id: str
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    sync_token: str
    supports_diff: bool
    linked_sync_id: str
    compacted: bool
    ingest_invariant_generation: str
    ingest_invariant_coverage: _containers.RepeatedScalarFieldContainer[str]
    ingest_invariant_mode: str
    def __init__(self, sync_id: _Optional[str] = ..., type: _Optional[_Union[SyncType, str]] = ..., parent_sync_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sync_token: _Optional[str] = ..., supports_diff: _Optional[bool] = ..., linked_sync_id: _Optional[str] = ..., compacted: _Optional[bool] = ..., ingest_invariant_generation: _Optional[str] = ..., ingest_invariant_coverage: _Optional[_Iterable[str]] = ..., ingest_invariant_mode: _Optional[str] = ...) -> None: ...

class CallStat(_message.Message):
    __slots__ = ("count", "total_ms", "max_ms", "errors", "timeouts")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_MS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUTS_FIELD_NUMBER: _ClassVar[int]
    count: int
    total_ms: int
    max_ms: int
    errors: int
    timeouts: int
    def __init__(self, count: _Optional[int] = ..., total_ms: _Optional[int] = ..., max_ms: _Optional[int] = ..., errors: _Optional[int] = ..., timeouts: _Optional[int] = ...) -> None: ...

class SyncStatsRecord(_message.Message):
    __slots__ = ("sync_id", "resource_types", "resources", "entitlements", "grants", "assets", "resources_by_resource_type", "grants_by_entitlement_resource_type", "entitlements_by_resource_type", "step_durations_ms", "connector_call_stats", "session_store_stats", "written_at")
    class ResourcesByResourceTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class GrantsByEntitlementResourceTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class EntitlementsByResourceTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class StepDurationsMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ConnectorCallStatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: CallStat
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[CallStat, _Mapping]] = ...) -> None: ...
    class SessionStoreStatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: CallStat
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[CallStat, _Mapping]] = ...) -> None: ...
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_BY_RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    GRANTS_BY_ENTITLEMENT_RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENTS_BY_RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    STEP_DURATIONS_MS_FIELD_NUMBER: _ClassVar[int]
    CONNECTOR_CALL_STATS_FIELD_NUMBER: _ClassVar[int]
    SESSION_STORE_STATS_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_AT_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    resource_types: int
    resources: int
    entitlements: int
    grants: int
    assets: int
    resources_by_resource_type: _containers.ScalarMap[str, int]
    grants_by_entitlement_resource_type: _containers.ScalarMap[str, int]
    entitlements_by_resource_type: _containers.ScalarMap[str, int]
    step_durations_ms: _containers.ScalarMap[str, int]
    connector_call_stats: _containers.MessageMap[str, CallStat]
    session_store_stats: _containers.MessageMap[str, CallStat]
    written_at: _timestamp_pb2.Timestamp
    def __init__(self, sync_id: _Optional[str] = ..., resource_types: _Optional[int] = ..., resources: _Optional[int] = ..., entitlements: _Optional[int] = ..., grants: _Optional[int] = ..., assets: _Optional[int] = ..., resources_by_resource_type: _Optional[_Mapping[str, int]] = ..., grants_by_entitlement_resource_type: _Optional[_Mapping[str, int]] = ..., entitlements_by_resource_type: _Optional[_Mapping[str, int]] = ..., step_durations_ms: _Optional[_Mapping[str, int]] = ..., connector_call_stats: _Optional[_Mapping[str, CallStat]] = ..., session_store_stats: _Optional[_Mapping[str, CallStat]] = ..., written_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
