from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ExternalTicketSettings(_message.Message):
    __slots__ = ("enabled",)
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    def __init__(self, enabled: _Optional[bool] = ...) -> None: ...

class ExternalTicketRef(_message.Message):
    __slots__ = ("id", "external_ticket_provisioner_config_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_TICKET_PROVISIONER_CONFIG_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    external_ticket_provisioner_config_id: str
    def __init__(self, id: _Optional[str] = ..., external_ticket_provisioner_config_id: _Optional[str] = ...) -> None: ...
