from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SourceCacheCapability(_message.Message):
    __slots__ = ("mode",)
    class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MODE_UNSPECIFIED: _ClassVar[SourceCacheCapability.Mode]
        MODE_DISABLED: _ClassVar[SourceCacheCapability.Mode]
        MODE_READ_WRITE: _ClassVar[SourceCacheCapability.Mode]
    MODE_UNSPECIFIED: SourceCacheCapability.Mode
    MODE_DISABLED: SourceCacheCapability.Mode
    MODE_READ_WRITE: SourceCacheCapability.Mode
    MODE_FIELD_NUMBER: _ClassVar[int]
    mode: SourceCacheCapability.Mode
    def __init__(self, mode: _Optional[_Union[SourceCacheCapability.Mode, str]] = ...) -> None: ...

class SourceCacheScope(_message.Message):
    __slots__ = ("scope_hash", "etag", "deleted_ids", "deleted_principal_ids")
    SCOPE_HASH_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    DELETED_IDS_FIELD_NUMBER: _ClassVar[int]
    DELETED_PRINCIPAL_IDS_FIELD_NUMBER: _ClassVar[int]
    scope_hash: str
    etag: str
    deleted_ids: _containers.RepeatedScalarFieldContainer[str]
    deleted_principal_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scope_hash: _Optional[str] = ..., etag: _Optional[str] = ..., deleted_ids: _Optional[_Iterable[str]] = ..., deleted_principal_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SourceCacheReplay(_message.Message):
    __slots__ = ("scope_hash", "etag", "overlay", "deleted_ids", "deleted_principal_ids")
    SCOPE_HASH_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    OVERLAY_FIELD_NUMBER: _ClassVar[int]
    DELETED_IDS_FIELD_NUMBER: _ClassVar[int]
    DELETED_PRINCIPAL_IDS_FIELD_NUMBER: _ClassVar[int]
    scope_hash: str
    etag: str
    overlay: bool
    deleted_ids: _containers.RepeatedScalarFieldContainer[str]
    deleted_principal_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, scope_hash: _Optional[str] = ..., etag: _Optional[str] = ..., overlay: _Optional[bool] = ..., deleted_ids: _Optional[_Iterable[str]] = ..., deleted_principal_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SourceCacheLookupOffer(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SourceCacheLookupAsk(_message.Message):
    __slots__ = ("queries",)
    class Query(_message.Message):
        __slots__ = ("row_kind", "scope_hash")
        ROW_KIND_FIELD_NUMBER: _ClassVar[int]
        SCOPE_HASH_FIELD_NUMBER: _ClassVar[int]
        row_kind: str
        scope_hash: str
        def __init__(self, row_kind: _Optional[str] = ..., scope_hash: _Optional[str] = ...) -> None: ...
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[SourceCacheLookupAsk.Query]
    def __init__(self, queries: _Optional[_Iterable[_Union[SourceCacheLookupAsk.Query, _Mapping]]] = ...) -> None: ...

class SourceCacheLookupAnswers(_message.Message):
    __slots__ = ("answers",)
    class Answer(_message.Message):
        __slots__ = ("row_kind", "scope_hash", "found", "etag")
        ROW_KIND_FIELD_NUMBER: _ClassVar[int]
        SCOPE_HASH_FIELD_NUMBER: _ClassVar[int]
        FOUND_FIELD_NUMBER: _ClassVar[int]
        ETAG_FIELD_NUMBER: _ClassVar[int]
        row_kind: str
        scope_hash: str
        found: bool
        etag: str
        def __init__(self, row_kind: _Optional[str] = ..., scope_hash: _Optional[str] = ..., found: _Optional[bool] = ..., etag: _Optional[str] = ...) -> None: ...
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[SourceCacheLookupAnswers.Answer]
    def __init__(self, answers: _Optional[_Iterable[_Union[SourceCacheLookupAnswers.Answer, _Mapping]]] = ...) -> None: ...
