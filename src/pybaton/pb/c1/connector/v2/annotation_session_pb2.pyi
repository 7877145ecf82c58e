from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionStoreUsage(_message.Message):
    __slots__ = ("kind", "ops")
    class OpStats(_message.Message):
        __slots__ = ("op", "count", "errors", "timeouts", "total_ms", "max_ms")
        OP_FIELD_NUMBER: _ClassVar[int]
        COUNT_FIELD_NUMBER: _ClassVar[int]
        ERRORS_FIELD_NUMBER: _ClassVar[int]
        TIMEOUTS_FIELD_NUMBER: _ClassVar[int]
        TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
        MAX_MS_FIELD_NUMBER: _ClassVar[int]
        op: str
        count: int
        errors: int
        timeouts: int
        total_ms: int
        max_ms: int
        def __init__(self, op: _Optional[str] = ..., count: _Optional[int] = ..., errors: _Optional[int] = ..., timeouts: _Optional[int] = ..., total_ms: _Optional[int] = ..., max_ms: _Optional[int] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    OPS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    ops: _containers.RepeatedCompositeFieldContainer[SessionStoreUsage.OpStats]
    def __init__(self, kind: _Optional[str] = ..., ops: _Optional[_Iterable[_Union[SessionStoreUsage.OpStats, _Mapping]]] = ...) -> None: ...
