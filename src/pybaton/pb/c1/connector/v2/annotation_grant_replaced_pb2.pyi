from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GrantReplaced(_message.Message):
    __slots__ = ("replaced_grant_id",)
    REPLACED_GRANT_ID_FIELD_NUMBER: _ClassVar[int]
    replaced_grant_id: str
    def __init__(self, replaced_grant_id: _Optional[str] = ...) -> None: ...
