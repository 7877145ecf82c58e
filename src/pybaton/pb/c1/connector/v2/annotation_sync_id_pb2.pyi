from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SyncId(_message.Message):
    __slots__ = ("active_sync_id",)
    ACTIVE_SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    active_sync_id: str
    def __init__(self, active_sync_id: _Optional[str] = ...) -> None: ...
