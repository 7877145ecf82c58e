from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class EntitlementRef(_message.Message):
    __slots__ = ("resource_type_id", "resource_id", "entitlement_id")
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    resource_id: str
    entitlement_id: str
    def __init__(self, resource_type_id: _Optional[str] = ..., resource_id: _Optional[str] = ..., entitlement_id: _Optional[str] = ...) -> None: ...

class PrincipalRef(_message.Message):
    __slots__ = ("resource_type_id", "resource_id", "parent_resource_type_id", "parent_resource_id")
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    resource_id: str
    parent_resource_type_id: str
    parent_resource_id: str
    def __init__(self, resource_type_id: _Optional[str] = ..., resource_id: _Optional[str] = ..., parent_resource_type_id: _Optional[str] = ..., parent_resource_id: _Optional[str] = ...) -> None: ...

class ResourceRef(_message.Message):
    __slots__ = ("resource_type_id", "resource_id")
    RESOURCE_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    resource_type_id: str
    resource_id: str
    def __init__(self, resource_type_id: _Optional[str] = ..., resource_id: _Optional[str] = ...) -> None: ...
