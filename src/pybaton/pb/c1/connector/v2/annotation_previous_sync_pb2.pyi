import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsePreviousSyncResults(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PreviousSyncMetadata(_message.Message):
    __slots__ = ("sync_id", "last_processed_at", "etag")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_PROCESSED_AT_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    last_processed_at: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, sync_id: _Optional[str] = ..., last_processed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...
