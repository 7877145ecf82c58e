from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TypeScopedGrants(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SpawnCursors(_message.Message):
    __slots__ = ("page_tokens", "estimated_total")
    PAGE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    page_tokens: _containers.RepeatedScalarFieldContainer[str]
    estimated_total: int
    def __init__(self, page_tokens: _Optional[_Iterable[str]] = ..., estimated_total: _Optional[int] = ...) -> None: ...
