from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProvisionFailureDetail(_message.Message):
    __slots__ = ("reason", "detail")
    class Reason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        REASON_UNSPECIFIED: _ClassVar[ProvisionFailureDetail.Reason]
        REASON_USER_NOT_PROVISIONABLE: _ClassVar[ProvisionFailureDetail.Reason]
        REASON_TARGET_MANAGED_EXTERNALLY: _ClassVar[ProvisionFailureDetail.Reason]
        REASON_LICENSE_EXHAUSTED: _ClassVar[ProvisionFailureDetail.Reason]
        REASON_VALIDATION_FAILURE: _ClassVar[ProvisionFailureDetail.Reason]
        REASON_OPERATION_NOT_PERMITTED: _ClassVar[ProvisionFailureDetail.Reason]
    REASON_UNSPECIFIED: ProvisionFailureDetail.Reason
    REASON_USER_NOT_PROVISIONABLE: ProvisionFailureDetail.Reason
    REASON_TARGET_MANAGED_EXTERNALLY: ProvisionFailureDetail.Reason
    REASON_LICENSE_EXHAUSTED: ProvisionFailureDetail.Reason
    REASON_VALIDATION_FAILURE: ProvisionFailureDetail.Reason
    REASON_OPERATION_NOT_PERMITTED: ProvisionFailureDetail.Reason
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    reason: ProvisionFailureDetail.Reason
    detail: str
    def __init__(self, reason: _Optional[_Union[ProvisionFailureDetail.Reason, str]] = ..., detail: _Optional[str] = ...) -> None: ...
