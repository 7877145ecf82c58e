from pybaton.pb.c1.connector.v2 import entitlement_pb2 as _entitlement_pb2
from pybaton.pb.c1.connector.v2 import grant_pb2 as _grant_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EntitlementExclusionGroup(_message.Message):
    __slots__ = ("exclusion_group_id", "order", "is_default")
    EXCLUSION_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    exclusion_group_id: str
    order: int
    is_default: bool
    def __init__(self, exclusion_group_id: _Optional[str] = ..., order: _Optional[int] = ..., is_default: _Optional[bool] = ...) -> None: ...

class SwapPartialFailure(_message.Message):
    __slots__ = ("revoked_grant", "failed_grant_entitlement", "exclusion_group_id")
    REVOKED_GRANT_FIELD_NUMBER: _ClassVar[int]
    FAILED_GRANT_ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    EXCLUSION_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    revoked_grant: _grant_pb2.Grant
    failed_grant_entitlement: _entitlement_pb2.Entitlement
    exclusion_group_id: str
    def __init__(self, revoked_grant: _Optional[_Union[_grant_pb2.Grant, _Mapping]] = ..., failed_grant_entitlement: _Optional[_Union[_entitlement_pb2.Entitlement, _Mapping]] = ..., exclusion_group_id: _Optional[str] = ...) -> None: ...
