import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RateLimitDescription(_message.Message):
    __slots__ = ("status", "limit", "remaining", "reset_at")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[RateLimitDescription.Status]
        STATUS_OK: _ClassVar[RateLimitDescription.Status]
        STATUS_OVERLIMIT: _ClassVar[RateLimitDescription.Status]
        STATUS_ERROR: _ClassVar[RateLimitDescription.Status]
    STATUS_UNSPECIFIED: RateLimitDescription.Status
    STATUS_OK: RateLimitDescription.Status
    STATUS_OVERLIMIT: RateLimitDescription.Status
    STATUS_ERROR: RateLimitDescription.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESET_AT_FIELD_NUMBER: _ClassVar[int]
    status: RateLimitDescription.Status
    limit: int
    remaining: int
    reset_at: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[RateLimitDescription.Status, str]] = ..., limit: _Optional[int] = ..., remaining: _Optional[int] = ..., reset_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RateLimitWaitReport(_message.Message):
    __slots__ = ("wait_ms",)
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    wait_ms: int
    def __init__(self, wait_ms: _Optional[int] = ...) -> None: ...
