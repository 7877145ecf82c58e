import datetime

from pybaton.pb.c1.connector.v2 import entitlement_pb2 as _entitlement_pb2
from pybaton.pb.c1.connector.v2 import grant_pb2 as _grant_pb2
from pybaton.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_USAGE: _ClassVar[EventType]
    EVENT_TYPE_RESOURCE_CHANGE: _ClassVar[EventType]

class EventFeedStartAt(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_FEED_START_AT_UNSPECIFIED: _ClassVar[EventFeedStartAt]
    EVENT_FEED_START_AT_HEAD: _ClassVar[EventFeedStartAt]
    EVENT_FEED_START_AT_TAIL: _ClassVar[EventFeedStartAt]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_USAGE: EventType
EVENT_TYPE_RESOURCE_CHANGE: EventType
EVENT_FEED_START_AT_UNSPECIFIED: EventFeedStartAt
EVENT_FEED_START_AT_HEAD: EventFeedStartAt
EVENT_FEED_START_AT_TAIL: EventFeedStartAt

class ListEventsRequest(_message.Message):
    __slots__ = ("cursor", "start_at", "page_size", "annotations", "event_feed_id")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FEED_ID_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    start_at: _timestamp_pb2.Timestamp
    page_size: int
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    event_feed_id: str
    def __init__(self, cursor: _Optional[str] = ..., start_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ..., event_feed_id: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "cursor", "has_more", "annotations")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    cursor: str
    has_more: bool
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., cursor: _Optional[str] = ..., has_more: _Optional[bool] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class ListEventFeedsRequest(_message.Message):
    __slots__ = ("annotations",)
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class ListEventFeedsResponse(_message.Message):
    __slots__ = ("list", "annotations")
    LIST_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[EventFeedMetadata]
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, list: _Optional[_Iterable[_Union[EventFeedMetadata, _Mapping]]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "occurred_at", "usage_event", "grant_event", "revoke_event", "resource_change_event", "annotations")
    ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    USAGE_EVENT_FIELD_NUMBER: _ClassVar[int]
    GRANT_EVENT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_EVENT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_CHANGE_EVENT_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    occurred_at: _timestamp_pb2.Timestamp
    usage_event: UsageEvent
    grant_event: GrantEvent
    revoke_event: RevokeEvent
    resource_change_event: ResourceChangeEvent
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage_event: _Optional[_Union[UsageEvent, _Mapping]] = ..., grant_event: _Optional[_Union[GrantEvent, _Mapping]] = ..., revoke_event: _Optional[_Union[RevokeEvent, _Mapping]] = ..., resource_change_event: _Optional[_Union[ResourceChangeEvent, _Mapping]] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class UsageEvent(_message.Message):
    __slots__ = ("target_resource", "actor_resource")
    TARGET_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    target_resource: _resource_pb2.Resource
    actor_resource: _resource_pb2.Resource
    def __init__(self, target_resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ..., actor_resource: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ...) -> None: ...

class GrantEvent(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: _grant_pb2.Grant
    def __init__(self, grant: _Optional[_Union[_grant_pb2.Grant, _Mapping]] = ...) -> None: ...

class RevokeEvent(_message.Message):
    __slots__ = ("entitlement", "principal")
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    entitlement: _entitlement_pb2.Entitlement
    principal: _resource_pb2.Resource
    def __init__(self, entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., principal: _Optional[_Union[_resource_pb2.Resource, _Mapping]] = ...) -> None: ...

class ResourceChangeEvent(_message.Message):
    __slots__ = ("resource_id", "parent_resource_id")
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    resource_id: _resource_pb2.ResourceId
    parent_resource_id: _resource_pb2.ResourceId
    def __init__(self, resource_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., parent_resource_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ...) -> None: ...

class EventFeedMetadata(_message.Message):
    __slots__ = ("id", "supported_event_types", "start_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    supported_event_types: _containers.RepeatedScalarFieldContainer[EventType]
    start_at: EventFeedStartAt
    def __init__(self, id: _Optional[str] = ..., supported_event_types: _Optional[_Iterable[_Union[EventType, str]]] = ..., start_at: _Optional[_Union[EventFeedStartAt, str]] = ...) -> None: ...
