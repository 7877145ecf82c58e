import datetime

from pybaton.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RiskScore(_message.Message):
    __slots__ = ("value", "factors")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    value: str
    factors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, value: _Optional[str] = ..., factors: _Optional[_Iterable[str]] = ...) -> None: ...

class Issue(_message.Message):
    __slots__ = ("value", "severity")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    value: str
    severity: str
    def __init__(self, value: _Optional[str] = ..., severity: _Optional[str] = ...) -> None: ...

class SecurityInsightTrait(_message.Message):
    __slots__ = ("risk_score", "issue", "observed_at", "user", "resource_id", "external_resource", "app_user")
    class UserTarget(_message.Message):
        __slots__ = ("email",)
        EMAIL_FIELD_NUMBER: _ClassVar[int]
        email: str
        def __init__(self, email: _Optional[str] = ...) -> None: ...
    class AppUserTarget(_message.Message):
        __slots__ = ("email", "external_id")
        EMAIL_FIELD_NUMBER: _ClassVar[int]
        EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
        email: str
        external_id: str
        def __init__(self, email: _Optional[str] = ..., external_id: _Optional[str] = ...) -> None: ...
    class ExternalResourceTarget(_message.Message):
        __slots__ = ("external_id", "app_hint")
        EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
        APP_HINT_FIELD_NUMBER: _ClassVar[int]
        external_id: str
        app_hint: str
        def __init__(self, external_id: _Optional[str] = ..., app_hint: _Optional[str] = ...) -> None: ...
    RISK_SCORE_FIELD_NUMBER: _ClassVar[int]
    ISSUE_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    APP_USER_FIELD_NUMBER: _ClassVar[int]
    risk_score: RiskScore
    issue: Issue
    observed_at: _timestamp_pb2.Timestamp
    user: SecurityInsightTrait.UserTarget
    resource_id: _resource_pb2.ResourceId
    external_resource: SecurityInsightTrait.ExternalResourceTarget
    app_user: SecurityInsightTrait.AppUserTarget
    def __init__(self, risk_score: _Optional[_Union[RiskScore, _Mapping]] = ..., issue: _Optional[_Union[Issue, _Mapping]] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user: _Optional[_Union[SecurityInsightTrait.UserTarget, _Mapping]] = ..., resource_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., external_resource: _Optional[_Union[SecurityInsightTrait.ExternalResourceTarget, _Mapping]] = ..., app_user: _Optional[_Union[SecurityInsightTrait.AppUserTarget, _Mapping]] = ...) -> None: ...
