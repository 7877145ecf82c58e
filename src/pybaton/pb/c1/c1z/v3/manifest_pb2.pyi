import datetime

from pybaton.pb.c1.storage.v3 import records_pb2 as _records_pb2
from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PayloadEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYLOAD_ENCODING_UNSPECIFIED: _ClassVar[PayloadEncoding]
    PAYLOAD_ENCODING_TAR_ZSTD: _ClassVar[PayloadEncoding]
    PAYLOAD_ENCODING_TAR: _ClassVar[PayloadEncoding]
    PAYLOAD_ENCODING_INDEXED_ZSTD: _ClassVar[PayloadEncoding]
PAYLOAD_ENCODING_UNSPECIFIED: PayloadEncoding
PAYLOAD_ENCODING_TAR_ZSTD: PayloadEncoding
PAYLOAD_ENCODING_TAR: PayloadEncoding
PAYLOAD_ENCODING_INDEXED_ZSTD: PayloadEncoding

class C1ZManifestV3(_message.Message):
    __slots__ = ("engine", "engine_schema_version", "engine_config", "payload_encoding", "descriptors", "record_types", "tenant_hint", "created_at", "created_by_sdk_version", "created_by_tool", "sync_runs")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_ENCODING_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTORS_FIELD_NUMBER: _ClassVar[int]
    RECORD_TYPES_FIELD_NUMBER: _ClassVar[int]
    TENANT_HINT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_SDK_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_TOOL_FIELD_NUMBER: _ClassVar[int]
    SYNC_RUNS_FIELD_NUMBER: _ClassVar[int]
    engine: str
    engine_schema_version: int
    engine_config: _any_pb2.Any
    payload_encoding: PayloadEncoding
    descriptors: _descriptor_pb2.FileDescriptorSet
    record_types: _containers.RepeatedCompositeFieldContainer[RecordTypeInfo]
    tenant_hint: str
    created_at: _timestamp_pb2.Timestamp
    created_by_sdk_version: str
    created_by_tool: str
    sync_runs: _containers.RepeatedCompositeFieldContainer[SyncRunSummary]
    def __init__(self, engine: _Optional[str] = ..., engine_schema_version: _Optional[int] = ..., engine_config: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., payload_encoding: _Optional[_Union[PayloadEncoding, str]] = ..., descriptors: _Optional[_Union[_descriptor_pb2.FileDescriptorSet, _Mapping]] = ..., record_types: _Optional[_Iterable[_Union[RecordTypeInfo, _Mapping]]] = ..., tenant_hint: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by_sdk_version: _Optional[str] = ..., created_by_tool: _Optional[str] = ..., sync_runs: _Optional[_Iterable[_Union[SyncRunSummary, _Mapping]]] = ...) -> None: ...

class RecordTypeInfo(_message.Message):
    __slots__ = ("message_full_name", "schema_version", "estimated_count")
    MESSAGE_FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    message_full_name: str
    schema_version: int
    estimated_count: int
    def __init__(self, message_full_name: _Optional[str] = ..., schema_version: _Optional[int] = ..., estimated_count: _Optional[int] = ...) -> None: ...

class SyncRunSummary(_message.Message):
    __slots__ = ("sync_id", "type", "started_at", "ended_at", "stats")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    type: _records_pb2.SyncType
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    stats: _records_pb2.SyncStatsRecord
    def __init__(self, sync_id: _Optional[str] = ..., type: _Optional[_Union[_records_pb2.SyncType, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stats: _Optional[_Union[_records_pb2.SyncStatsRecord, _Mapping]] = ...) -> None: ...

class IndexedFrameEntry(_message.Message):
    __slots__ = ("name", "frame_offset", "compressed_size", "raw_size", "raw_xxh64", "raw_sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FRAME_OFFSET_FIELD_NUMBER: _ClassVar[int]
    COMPRESSED_SIZE_FIELD_NUMBER: _ClassVar[int]
    RAW_SIZE_FIELD_NUMBER: _ClassVar[int]
    RAW_XXH64_FIELD_NUMBER: _ClassVar[int]
    RAW_SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    frame_offset: int
    compressed_size: int
    raw_size: int
    raw_xxh64: int
    raw_sha256: bytes
    def __init__(self, name: _Optional[str] = ..., frame_offset: _Optional[int] = ..., compressed_size: _Optional[int] = ..., raw_size: _Optional[int] = ..., raw_xxh64: _Optional[int] = ..., raw_sha256: _Optional[bytes] = ...) -> None: ...

class IndexedFrameIndex(_message.Message):
    __slots__ = ("entries", "total_raw_size", "total_compressed_size", "manifest_xxh64")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RAW_SIZE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COMPRESSED_SIZE_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_XXH64_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[IndexedFrameEntry]
    total_raw_size: int
    total_compressed_size: int
    manifest_xxh64: int
    def __init__(self, entries: _Optional[_Iterable[_Union[IndexedFrameEntry, _Mapping]]] = ..., total_raw_size: _Optional[int] = ..., total_compressed_size: _Optional[int] = ..., manifest_xxh64: _Optional[int] = ...) -> None: ...
