import datetime

from pybaton.pb.c1.connector.v2 import asset_pb2 as _asset_pb2
from pybaton.pb.c1.connector.v2 import resource_pb2 as _resource_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserTrait(_message.Message):
    __slots__ = ("emails", "status", "profile", "icon", "account_type", "login", "login_aliases", "employee_ids", "created_at", "last_login", "mfa_status", "sso_status", "structured_name")
    class AccountType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACCOUNT_TYPE_UNSPECIFIED: _ClassVar[UserTrait.AccountType]
        ACCOUNT_TYPE_HUMAN: _ClassVar[UserTrait.AccountType]
        ACCOUNT_TYPE_SERVICE: _ClassVar[UserTrait.AccountType]
        ACCOUNT_TYPE_SYSTEM: _ClassVar[UserTrait.AccountType]
    ACCOUNT_TYPE_UNSPECIFIED: UserTrait.AccountType
    ACCOUNT_TYPE_HUMAN: UserTrait.AccountType
    ACCOUNT_TYPE_SERVICE: UserTrait.AccountType
    ACCOUNT_TYPE_SYSTEM: UserTrait.AccountType
    class Email(_message.Message):
        __slots__ = ("address", "is_primary")
        ADDRESS_FIELD_NUMBER: _ClassVar[int]
        IS_PRIMARY_FIELD_NUMBER: _ClassVar[int]
        address: str
        is_primary: bool
        def __init__(self, address: _Optional[str] = ..., is_primary: _Optional[bool] = ...) -> None: ...
    class Status(_message.Message):
        __slots__ = ("status", "details")
        class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
            __slots__ = ()
            STATUS_UNSPECIFIED: _ClassVar[UserTrait.Status.Status]
            STATUS_ENABLED: _ClassVar[UserTrait.Status.Status]
            STATUS_DISABLED: _ClassVar[UserTrait.Status.Status]
            STATUS_DELETED: _ClassVar[UserTrait.Status.Status]
        STATUS_UNSPECIFIED: UserTrait.Status.Status
        STATUS_ENABLED: UserTrait.Status.Status
        STATUS_DISABLED: UserTrait.Status.Status
        STATUS_DELETED: UserTrait.Status.Status
        STATUS_FIELD_NUMBER: _ClassVar[int]
        DETAILS_FIELD_NUMBER: _ClassVar[int]
        status: UserTrait.Status.Status
        details: str
        def __init__(self, status: _Optional[_Union[UserTrait.Status.Status, str]] = ..., details: _Optional[str] = ...) -> None: ...
    class MFAStatus(_message.Message):
        __slots__ = ("mfa_enabled",)
        MFA_ENABLED_FIELD_NUMBER: _ClassVar[int]
        mfa_enabled: bool
        def __init__(self, mfa_enabled: _Optional[bool] = ...) -> None: ...
    class SSOStatus(_message.Message):
        __slots__ = ("sso_enabled",)
        SSO_ENABLED_FIELD_NUMBER: _ClassVar[int]
        sso_enabled: bool
        def __init__(self, sso_enabled: _Optional[bool] = ...) -> None: ...
    class StructuredName(_message.Message):
        __slots__ = ("given_name", "family_name", "middle_names", "prefix", "suffix")
        GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
        FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
        MIDDLE_NAMES_FIELD_NUMBER: _ClassVar[int]
        PREFIX_FIELD_NUMBER: _ClassVar[int]
        SUFFIX_FIELD_NUMBER: _ClassVar[int]
        given_name: str
        family_name: str
        middle_names: _containers.RepeatedScalarFieldContainer[str]
        prefix: str
        suffix: str
        def __init__(self, given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., middle_names: _Optional[_Iterable[str]] = ..., prefix: _Optional[str] = ..., suffix: _Optional[str] = ...) -> None: ...
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    LOGIN_ALIASES_FIELD_NUMBER: _ClassVar[int]
    EMPLOYEE_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_LOGIN_FIELD_NUMBER: _ClassVar[int]
    MFA_STATUS_FIELD_NUMBER: _ClassVar[int]
    SSO_STATUS_FIELD_NUMBER: _ClassVar[int]
    STRUCTURED_NAME_FIELD_NUMBER: _ClassVar[int]
    emails: _containers.RepeatedCompositeFieldContainer[UserTrait.Email]
    status: UserTrait.Status
    profile: _struct_pb2.Struct
    icon: _asset_pb2.AssetRef
    account_type: UserTrait.AccountType
    login: str
    login_aliases: _containers.RepeatedScalarFieldContainer[str]
    employee_ids: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    last_login: _timestamp_pb2.Timestamp
    mfa_status: UserTrait.MFAStatus
    sso_status: UserTrait.SSOStatus
    structured_name: UserTrait.StructuredName
    def __init__(self, emails: _Optional[_Iterable[_Union[UserTrait.Email, _Mapping]]] = ..., status: _Optional[_Union[UserTrait.Status, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., icon: _Optional[_Union[_asset_pb2.AssetRef, _Mapping]] = ..., account_type: _Optional[_Union[UserTrait.AccountType, str]] = ..., login: _Optional[str] = ..., login_aliases: _Optional[_Iterable[str]] = ..., employee_ids: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_login: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mfa_status: _Optional[_Union[UserTrait.MFAStatus, _Mapping]] = ..., sso_status: _Optional[_Union[UserTrait.SSOStatus, _Mapping]] = ..., structured_name: _Optional[_Union[UserTrait.StructuredName, _Mapping]] = ...) -> None: ...

class GroupTrait(_message.Message):
    __slots__ = ("icon", "profile", "group_source_type", "raw_group_source_type")
    ICON_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    GROUP_SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RAW_GROUP_SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    icon: _asset_pb2.AssetRef
    profile: _struct_pb2.Struct
    group_source_type: str
    raw_group_source_type: str
    def __init__(self, icon: _Optional[_Union[_asset_pb2.AssetRef, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., group_source_type: _Optional[str] = ..., raw_group_source_type: _Optional[str] = ...) -> None: ...

class RoleTrait(_message.Message):
    __slots__ = ("profile", "role_scope_conditions")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    ROLE_SCOPE_CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    profile: _struct_pb2.Struct
    role_scope_conditions: RoleScopeConditions
    def __init__(self, profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., role_scope_conditions: _Optional[_Union[RoleScopeConditions, _Mapping]] = ...) -> None: ...

class RoleScopeConditions(_message.Message):
    __slots__ = ("type", "conditions")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    type: str
    conditions: _containers.RepeatedCompositeFieldContainer[RoleScopeCondition]
    def __init__(self, type: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[RoleScopeCondition, _Mapping]]] = ...) -> None: ...

class RoleScopeCondition(_message.Message):
    __slots__ = ("expression",)
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    expression: str
    def __init__(self, expression: _Optional[str] = ...) -> None: ...

class ScopeBindingTrait(_message.Message):
    __slots__ = ("role_id", "scope_resource_id")
    ROLE_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    role_id: _resource_pb2.ResourceId
    scope_resource_id: _resource_pb2.ResourceId
    def __init__(self, role_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., scope_resource_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ...) -> None: ...

class AppTrait(_message.Message):
    __slots__ = ("help_url", "icon", "logo", "profile", "flags", "app_source_type", "raw_app_source_type")
    class AppFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        APP_FLAG_UNSPECIFIED: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_HIDDEN: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_INACTIVE: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_SAML: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_OIDC: _ClassVar[AppTrait.AppFlag]
        APP_FLAG_BOOKMARK: _ClassVar[AppTrait.AppFlag]
    APP_FLAG_UNSPECIFIED: AppTrait.AppFlag
    APP_FLAG_HIDDEN: AppTrait.AppFlag
    APP_FLAG_INACTIVE: AppTrait.AppFlag
    APP_FLAG_SAML: AppTrait.AppFlag
    APP_FLAG_OIDC: AppTrait.AppFlag
    APP_FLAG_BOOKMARK: AppTrait.AppFlag
    HELP_URL_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    LOGO_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    APP_SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RAW_APP_SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    help_url: str
    icon: _asset_pb2.AssetRef
    logo: _asset_pb2.AssetRef
    profile: _struct_pb2.Struct
    flags: _containers.RepeatedScalarFieldContainer[AppTrait.AppFlag]
    app_source_type: str
    raw_app_source_type: str
    def __init__(self, help_url: _Optional[str] = ..., icon: _Optional[_Union[_asset_pb2.AssetRef, _Mapping]] = ..., logo: _Optional[_Union[_asset_pb2.AssetRef, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., flags: _Optional[_Iterable[_Union[AppTrait.AppFlag, str]]] = ..., app_source_type: _Optional[str] = ..., raw_app_source_type: _Optional[str] = ...) -> None: ...

class SecretTrait(_message.Message):
    __slots__ = ("profile", "created_at", "expires_at", "last_used_at", "created_by_id", "identity_id", "credential_type", "credential_detail")
    class CredentialType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CREDENTIAL_TYPE_UNSPECIFIED: _ClassVar[SecretTrait.CredentialType]
        CREDENTIAL_TYPE_STATIC_SECRET: _ClassVar[SecretTrait.CredentialType]
        CREDENTIAL_TYPE_ASYMMETRIC_KEY: _ClassVar[SecretTrait.CredentialType]
        CREDENTIAL_TYPE_CERTIFICATE: _ClassVar[SecretTrait.CredentialType]
    CREDENTIAL_TYPE_UNSPECIFIED: SecretTrait.CredentialType
    CREDENTIAL_TYPE_STATIC_SECRET: SecretTrait.CredentialType
    CREDENTIAL_TYPE_ASYMMETRIC_KEY: SecretTrait.CredentialType
    CREDENTIAL_TYPE_CERTIFICATE: SecretTrait.CredentialType
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_DETAIL_FIELD_NUMBER: _ClassVar[int]
    profile: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    created_by_id: _resource_pb2.ResourceId
    identity_id: _resource_pb2.ResourceId
    credential_type: SecretTrait.CredentialType
    credential_detail: str
    def __init__(self, profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., identity_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., credential_type: _Optional[_Union[SecretTrait.CredentialType, str]] = ..., credential_detail: _Optional[str] = ...) -> None: ...

class LicenseProfileTrait(_message.Message):
    __slots__ = ("license_name", "purchased_seats", "consumed_seats", "cost_per_unit_in_cents", "currency", "entitlement_ids")
    LICENSE_NAME_FIELD_NUMBER: _ClassVar[int]
    PURCHASED_SEATS_FIELD_NUMBER: _ClassVar[int]
    CONSUMED_SEATS_FIELD_NUMBER: _ClassVar[int]
    COST_PER_UNIT_IN_CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    license_name: str
    purchased_seats: int
    consumed_seats: int
    cost_per_unit_in_cents: int
    currency: str
    entitlement_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, license_name: _Optional[str] = ..., purchased_seats: _Optional[int] = ..., consumed_seats: _Optional[int] = ..., cost_per_unit_in_cents: _Optional[int] = ..., currency: _Optional[str] = ..., entitlement_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class NonHumanIdentityTrait(_message.Message):
    __slots__ = ("nhi_type", "nhi_detail")
    class NhiType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NHI_TYPE_UNSPECIFIED: _ClassVar[NonHumanIdentityTrait.NhiType]
        NHI_TYPE_APP_REGISTRATION: _ClassVar[NonHumanIdentityTrait.NhiType]
        NHI_TYPE_ASSUMABLE_ROLE: _ClassVar[NonHumanIdentityTrait.NhiType]
        NHI_TYPE_MANAGED_IDENTITY: _ClassVar[NonHumanIdentityTrait.NhiType]
    NHI_TYPE_UNSPECIFIED: NonHumanIdentityTrait.NhiType
    NHI_TYPE_APP_REGISTRATION: NonHumanIdentityTrait.NhiType
    NHI_TYPE_ASSUMABLE_ROLE: NonHumanIdentityTrait.NhiType
    NHI_TYPE_MANAGED_IDENTITY: NonHumanIdentityTrait.NhiType
    NHI_TYPE_FIELD_NUMBER: _ClassVar[int]
    NHI_DETAIL_FIELD_NUMBER: _ClassVar[int]
    nhi_type: NonHumanIdentityTrait.NhiType
    nhi_detail: str
    def __init__(self, nhi_type: _Optional[_Union[NonHumanIdentityTrait.NhiType, str]] = ..., nhi_detail: _Optional[str] = ...) -> None: ...

class AgentTrait(_message.Message):
    __slots__ = ("status", "identity_resource_id", "profile")
    class AgentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        AGENT_STATUS_UNSPECIFIED: _ClassVar[AgentTrait.AgentStatus]
        AGENT_STATUS_READY: _ClassVar[AgentTrait.AgentStatus]
        AGENT_STATUS_DISABLED: _ClassVar[AgentTrait.AgentStatus]
        AGENT_STATUS_DELETED: _ClassVar[AgentTrait.AgentStatus]
    AGENT_STATUS_UNSPECIFIED: AgentTrait.AgentStatus
    AGENT_STATUS_READY: AgentTrait.AgentStatus
    AGENT_STATUS_DISABLED: AgentTrait.AgentStatus
    AGENT_STATUS_DELETED: AgentTrait.AgentStatus
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    status: AgentTrait.AgentStatus
    identity_resource_id: _resource_pb2.ResourceId
    profile: _struct_pb2.Struct
    def __init__(self, status: _Optional[_Union[AgentTrait.AgentStatus, str]] = ..., identity_resource_id: _Optional[_Union[_resource_pb2.ResourceId, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ManagedDeviceTrait(_message.Message):
    __slots__ = ("serial", "udid", "hardware_hash", "device_type", "model", "vendor", "os", "compliance", "is_encrypted", "is_supervised", "is_personal", "management_state", "enrolled_at", "profile")
    class DeviceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        DEVICE_TYPE_UNSPECIFIED: _ClassVar[ManagedDeviceTrait.DeviceType]
        DEVICE_TYPE_SERVER: _ClassVar[ManagedDeviceTrait.DeviceType]
        DEVICE_TYPE_DESKTOP: _ClassVar[ManagedDeviceTrait.DeviceType]
        DEVICE_TYPE_LAPTOP: _ClassVar[ManagedDeviceTrait.DeviceType]
        DEVICE_TYPE_TABLET: _ClassVar[ManagedDeviceTrait.DeviceType]
        DEVICE_TYPE_MOBILE: _ClassVar[ManagedDeviceTrait.DeviceType]
        DEVICE_TYPE_VIRTUAL: _ClassVar[ManagedDeviceTrait.DeviceType]
        DEVICE_TYPE_OTHER: _ClassVar[ManagedDeviceTrait.DeviceType]
    DEVICE_TYPE_UNSPECIFIED: ManagedDeviceTrait.DeviceType
    DEVICE_TYPE_SERVER: ManagedDeviceTrait.DeviceType
    DEVICE_TYPE_DESKTOP: ManagedDeviceTrait.DeviceType
    DEVICE_TYPE_LAPTOP: ManagedDeviceTrait.DeviceType
    DEVICE_TYPE_TABLET: ManagedDeviceTrait.DeviceType
    DEVICE_TYPE_MOBILE: ManagedDeviceTrait.DeviceType
    DEVICE_TYPE_VIRTUAL: ManagedDeviceTrait.DeviceType
    DEVICE_TYPE_OTHER: ManagedDeviceTrait.DeviceType
    class ManagementState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        MANAGEMENT_STATE_UNSPECIFIED: _ClassVar[ManagedDeviceTrait.ManagementState]
        MANAGEMENT_STATE_MANAGED: _ClassVar[ManagedDeviceTrait.ManagementState]
        MANAGEMENT_STATE_UNMANAGED: _ClassVar[ManagedDeviceTrait.ManagementState]
        MANAGEMENT_STATE_PENDING: _ClassVar[ManagedDeviceTrait.ManagementState]
        MANAGEMENT_STATE_RETIRED: _ClassVar[ManagedDeviceTrait.ManagementState]
        MANAGEMENT_STATE_WIPED: _ClassVar[ManagedDeviceTrait.ManagementState]
    MANAGEMENT_STATE_UNSPECIFIED: ManagedDeviceTrait.ManagementState
    MANAGEMENT_STATE_MANAGED: ManagedDeviceTrait.ManagementState
    MANAGEMENT_STATE_UNMANAGED: ManagedDeviceTrait.ManagementState
    MANAGEMENT_STATE_PENDING: ManagedDeviceTrait.ManagementState
    MANAGEMENT_STATE_RETIRED: ManagedDeviceTrait.ManagementState
    MANAGEMENT_STATE_WIPED: ManagedDeviceTrait.ManagementState
    class Compliance(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        COMPLIANCE_UNSPECIFIED: _ClassVar[ManagedDeviceTrait.Compliance]
        COMPLIANCE_COMPLIANT: _ClassVar[ManagedDeviceTrait.Compliance]
        COMPLIANCE_NONCOMPLIANT: _ClassVar[ManagedDeviceTrait.Compliance]
        COMPLIANCE_IN_GRACE_PERIOD: _ClassVar[ManagedDeviceTrait.Compliance]
        COMPLIANCE_ERROR: _ClassVar[ManagedDeviceTrait.Compliance]
    COMPLIANCE_UNSPECIFIED: ManagedDeviceTrait.Compliance
    COMPLIANCE_COMPLIANT: ManagedDeviceTrait.Compliance
    COMPLIANCE_NONCOMPLIANT: ManagedDeviceTrait.Compliance
    COMPLIANCE_IN_GRACE_PERIOD: ManagedDeviceTrait.Compliance
    COMPLIANCE_ERROR: ManagedDeviceTrait.Compliance
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    UDID_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_HASH_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    COMPLIANCE_FIELD_NUMBER: _ClassVar[int]
    IS_ENCRYPTED_FIELD_NUMBER: _ClassVar[int]
    IS_SUPERVISED_FIELD_NUMBER: _ClassVar[int]
    IS_PERSONAL_FIELD_NUMBER: _ClassVar[int]
    MANAGEMENT_STATE_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_AT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    serial: str
    udid: str
    hardware_hash: str
    device_type: ManagedDeviceTrait.DeviceType
    model: str
    vendor: str
    os: DeviceOS
    compliance: ManagedDeviceTrait.Compliance
    is_encrypted: _wrappers_pb2.BoolValue
    is_supervised: _wrappers_pb2.BoolValue
    is_personal: _wrappers_pb2.BoolValue
    management_state: ManagedDeviceTrait.ManagementState
    enrolled_at: _timestamp_pb2.Timestamp
    profile: _struct_pb2.Struct
    def __init__(self, serial: _Optional[str] = ..., udid: _Optional[str] = ..., hardware_hash: _Optional[str] = ..., device_type: _Optional[_Union[ManagedDeviceTrait.DeviceType, str]] = ..., model: _Optional[str] = ..., vendor: _Optional[str] = ..., os: _Optional[_Union[DeviceOS, _Mapping]] = ..., compliance: _Optional[_Union[ManagedDeviceTrait.Compliance, str]] = ..., is_encrypted: _Optional[_Union[_wrappers_pb2.BoolValue, _Mapping]] = ..., is_supervised: _Optional[_Union[_wrappers_pb2.BoolValue, _Mapping]] = ..., is_personal: _Optional[_Union[_wrappers_pb2.BoolValue, _Mapping]] = ..., management_state: _Optional[_Union[ManagedDeviceTrait.ManagementState, str]] = ..., enrolled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., profile: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DeviceOS(_message.Message):
    __slots__ = ("type", "name", "version", "build")
    class OsType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OS_TYPE_UNSPECIFIED: _ClassVar[DeviceOS.OsType]
        OS_TYPE_WINDOWS: _ClassVar[DeviceOS.OsType]
        OS_TYPE_WINDOWS_MOBILE: _ClassVar[DeviceOS.OsType]
        OS_TYPE_LINUX: _ClassVar[DeviceOS.OsType]
        OS_TYPE_ANDROID: _ClassVar[DeviceOS.OsType]
        OS_TYPE_MACOS: _ClassVar[DeviceOS.OsType]
        OS_TYPE_IOS: _ClassVar[DeviceOS.OsType]
        OS_TYPE_IPADOS: _ClassVar[DeviceOS.OsType]
        OS_TYPE_SOLARIS: _ClassVar[DeviceOS.OsType]
        OS_TYPE_AIX: _ClassVar[DeviceOS.OsType]
        OS_TYPE_HPUX: _ClassVar[DeviceOS.OsType]
        OS_TYPE_CHROMEOS: _ClassVar[DeviceOS.OsType]
        OS_TYPE_OTHER: _ClassVar[DeviceOS.OsType]
    OS_TYPE_UNSPECIFIED: DeviceOS.OsType
    OS_TYPE_WINDOWS: DeviceOS.OsType
    OS_TYPE_WINDOWS_MOBILE: DeviceOS.OsType
    OS_TYPE_LINUX: DeviceOS.OsType
    OS_TYPE_ANDROID: DeviceOS.OsType
    OS_TYPE_MACOS: DeviceOS.OsType
    OS_TYPE_IOS: DeviceOS.OsType
    OS_TYPE_IPADOS: DeviceOS.OsType
    OS_TYPE_SOLARIS: DeviceOS.OsType
    OS_TYPE_AIX: DeviceOS.OsType
    OS_TYPE_HPUX: DeviceOS.OsType
    OS_TYPE_CHROMEOS: DeviceOS.OsType
    OS_TYPE_OTHER: DeviceOS.OsType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BUILD_FIELD_NUMBER: _ClassVar[int]
    type: DeviceOS.OsType
    name: str
    version: str
    build: str
    def __init__(self, type: _Optional[_Union[DeviceOS.OsType, str]] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., build: _Optional[str] = ...) -> None: ...
