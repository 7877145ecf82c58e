from pybaton.pb.c1.connector.v2 import entitlement_pb2 as _entitlement_pb2
from pybaton.pb.c1.connector.v2 import grant_pb2 as _grant_pb2
from pybaton.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GrantsReaderServiceGetGrantRequest(_message.Message):
    __slots__ = ("grant_id", "annotations")
    GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    grant_id: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, grant_id: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantsReaderServiceGetGrantResponse(_message.Message):
    __slots__ = ("grant",)
    GRANT_FIELD_NUMBER: _ClassVar[int]
    grant: _grant_pb2.Grant
    def __init__(self, grant: _Optional[_Union[_grant_pb2.Grant, _Mapping]] = ...) -> None: ...

class GrantsReaderServiceListGrantsForEntitlementRequest(_message.Message):
    __slots__ = ("entitlement", "principal_id", "principal_resource_type_ids", "page_size", "page_token", "annotations")
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_RESOURCE_TYPE_IDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    entitlement: _entitlement_pb2.Entitlement
    principal_id: _resource_pb2.ResourceId
    principal_resource_type_ids: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., principal_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., principal_resource_type_ids: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantsReaderServiceListGrantsForEntitlementResponse(_message.Message):
    __slots__ = ("list", "next_page_token")
    LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    next_page_token: str
    def __init__(self, list: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GrantsReaderServiceListGrantsForResourceTypeRequest(_message.Message):
    __slots__ = ("resource_type_id", "page_size", "page_token", "annotations")
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    page_size: int
    page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, resource_type_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantsReaderServiceListGrantsForResourceTypeResponse(_message.Message):
    __slots__ = ("list", "next_page_token")
    LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    next_page_token: str
    def __init__(self, list: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GrantsReaderServiceListGrantsForEntitlementsRequest(_message.Message):
    __slots__ = ("entitlements", "page_size", "page_token", "annotations")
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    entitlements: _containers.RepeatedCompositeFieldContainer[_entitlement_pb2.Entitlement]
    page_size: int
    page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, entitlements: _Optional[_Iterable[_Union[_entitlement_pb2.Entitlement, _Mapping]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantsReaderServiceListGrantsForEntitlementsResponse(_message.Message):
    __slots__ = ("list", "next_page_token")
    LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    next_page_token: str
    def __init__(self, list: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GrantsReaderServiceListGrantsForPrincipalRequest(_message.Message):
    __slots__ = ("principal_id", "entitlement", "page_size", "page_token", "annotations")
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    principal_id: _resource_pb2.ResourceId
    entitlement: _entitlement_pb2.Entitlement
    page_size: int
    page_token: str
    annotations: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, principal_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., annotations: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class GrantsReaderServiceListGrantsForPrincipalResponse(_message.Message):
    __slots__ = ("list", "next_page_token")
    LIST_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    list: _containers.RepeatedCompositeFieldContainer[_grant_pb2.Grant]
    next_page_token: str
    def __init__(self, list: _Optional[_Iterable[_Union[_grant_pb2.Grant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
