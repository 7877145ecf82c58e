import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApprovalStepOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_STEP_OUTCOME_UNSPECIFIED: _ClassVar[ApprovalStepOutcome]
    APPROVAL_STEP_OUTCOME_APPROVED: _ClassVar[ApprovalStepOutcome]
    APPROVAL_STEP_OUTCOME_DENIED: _ClassVar[ApprovalStepOutcome]
    APPROVAL_STEP_OUTCOME_ESCALATED_TO_EMERGENCY_ACCESS: _ClassVar[ApprovalStepOutcome]
    APPROVAL_STEP_OUTCOME_SKIPPED: _ClassVar[ApprovalStepOutcome]
    APPROVAL_STEP_OUTCOME_REASSIGNED: _ClassVar[ApprovalStepOutcome]
APPROVAL_STEP_OUTCOME_UNSPECIFIED: ApprovalStepOutcome
APPROVAL_STEP_OUTCOME_APPROVED: ApprovalStepOutcome
APPROVAL_STEP_OUTCOME_DENIED: ApprovalStepOutcome
APPROVAL_STEP_OUTCOME_ESCALATED_TO_EMERGENCY_ACCESS: ApprovalStepOutcome
APPROVAL_STEP_OUTCOME_SKIPPED: ApprovalStepOutcome
APPROVAL_STEP_OUTCOME_REASSIGNED: ApprovalStepOutcome

class TaskApprovalMetadata(_message.Message):
    __slots__ = ("task_id", "emergency_access", "approval_steps")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    EMERGENCY_ACCESS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    emergency_access: bool
    approval_steps: _containers.RepeatedCompositeFieldContainer[ApprovalStepMetadata]
    def __init__(self, task_id: _Optional[str] = ..., emergency_access: _Optional[bool] = ..., approval_steps: _Optional[_Iterable[_Union[ApprovalStepMetadata, _Mapping]]] = ...) -> None: ...

class ApprovalStepMetadata(_message.Message):
    __slots__ = ("step_id", "approval_type", "outcome", "approver_user_id", "decided_at")
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    APPROVER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    step_id: str
    approval_type: str
    outcome: ApprovalStepOutcome
    approver_user_id: str
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, step_id: _Optional[str] = ..., approval_type: _Optional[str] = ..., outcome: _Optional[_Union[ApprovalStepOutcome, str]] = ..., approver_user_id: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
