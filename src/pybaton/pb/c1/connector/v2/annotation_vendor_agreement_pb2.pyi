import datetime

from pybaton.pb.c1.connector.v2 import annotation_vendor_pb2 as _annotation_vendor_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LineItem(_message.Message):
    __slots__ = ("product_or_service_name", "quantity", "unit", "price_per_unit", "total_price")
    PRODUCT_OR_SERVICE_NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    product_or_service_name: str
    quantity: float
    unit: str
    price_per_unit: _annotation_vendor_pb2.Money
    total_price: _annotation_vendor_pb2.Money
    def __init__(self, product_or_service_name: _Optional[str] = ..., quantity: _Optional[float] = ..., unit: _Optional[str] = ..., price_per_unit: _Optional[_Union[_annotation_vendor_pb2.Money, _Mapping]] = ..., total_price: _Optional[_Union[_annotation_vendor_pb2.Money, _Mapping]] = ...) -> None: ...

class VendorAgreementTrait(_message.Message):
    __slots__ = ("agreement_name", "start_date", "end_date", "last_date_to_terminate", "auto_renewal", "renewal_status", "renewal_status_raw", "total_value", "line_items", "pricing_model", "trailing_30d_spend", "trailing_365d_spend", "ytd_spend", "external_account_manager_email", "external_account_manager_name")
    class RenewalStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        RENEWAL_STATUS_UNSPECIFIED: _ClassVar[VendorAgreementTrait.RenewalStatus]
        RENEWAL_STATUS_NOT_STARTED: _ClassVar[VendorAgreementTrait.RenewalStatus]
        RENEWAL_STATUS_INITIATED: _ClassVar[VendorAgreementTrait.RenewalStatus]
        RENEWAL_STATUS_RENEWED: _ClassVar[VendorAgreementTrait.RenewalStatus]
        RENEWAL_STATUS_CANCELLED: _ClassVar[VendorAgreementTrait.RenewalStatus]
        RENEWAL_STATUS_REJECTED: _ClassVar[VendorAgreementTrait.RenewalStatus]
        RENEWAL_STATUS_EXPIRED: _ClassVar[VendorAgreementTrait.RenewalStatus]
    RENEWAL_STATUS_UNSPECIFIED: VendorAgreementTrait.RenewalStatus
    RENEWAL_STATUS_NOT_STARTED: VendorAgreementTrait.RenewalStatus
    RENEWAL_STATUS_INITIATED: VendorAgreementTrait.RenewalStatus
    RENEWAL_STATUS_RENEWED: VendorAgreementTrait.RenewalStatus
    RENEWAL_STATUS_CANCELLED: VendorAgreementTrait.RenewalStatus
    RENEWAL_STATUS_REJECTED: VendorAgreementTrait.RenewalStatus
    RENEWAL_STATUS_EXPIRED: VendorAgreementTrait.RenewalStatus
    class PricingModel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PRICING_MODEL_UNSPECIFIED: _ClassVar[VendorAgreementTrait.PricingModel]
        PRICING_MODEL_UNKNOWN: _ClassVar[VendorAgreementTrait.PricingModel]
        PRICING_MODEL_PER_SEAT: _ClassVar[VendorAgreementTrait.PricingModel]
        PRICING_MODEL_PER_LICENSE: _ClassVar[VendorAgreementTrait.PricingModel]
        PRICING_MODEL_FLAT: _ClassVar[VendorAgreementTrait.PricingModel]
        PRICING_MODEL_TIERED: _ClassVar[VendorAgreementTrait.PricingModel]
        PRICING_MODEL_USAGE: _ClassVar[VendorAgreementTrait.PricingModel]
    PRICING_MODEL_UNSPECIFIED: VendorAgreementTrait.PricingModel
    PRICING_MODEL_UNKNOWN: VendorAgreementTrait.PricingModel
    PRICING_MODEL_PER_SEAT: VendorAgreementTrait.PricingModel
    PRICING_MODEL_PER_LICENSE: VendorAgreementTrait.PricingModel
    PRICING_MODEL_FLAT: VendorAgreementTrait.PricingModel
    PRICING_MODEL_TIERED: VendorAgreementTrait.PricingModel
    PRICING_MODEL_USAGE: VendorAgreementTrait.PricingModel
    AGREEMENT_NAME_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    LAST_DATE_TO_TERMINATE_FIELD_NUMBER: _ClassVar[int]
    AUTO_RENEWAL_FIELD_NUMBER: _ClassVar[int]
    RENEWAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    RENEWAL_STATUS_RAW_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    LINE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    PRICING_MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAILING_30D_SPEND_FIELD_NUMBER: _ClassVar[int]
    TRAILING_365D_SPEND_FIELD_NUMBER: _ClassVar[int]
    YTD_SPEND_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ACCOUNT_MANAGER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ACCOUNT_MANAGER_NAME_FIELD_NUMBER: _ClassVar[int]
    agreement_name: str
    start_date: _timestamp_pb2.Timestamp
    end_date: _timestamp_pb2.Timestamp
    last_date_to_terminate: _timestamp_pb2.Timestamp
    auto_renewal: bool
    renewal_status: VendorAgreementTrait.RenewalStatus
    renewal_status_raw: str
    total_value: _annotation_vendor_pb2.Money
    line_items: _containers.RepeatedCompositeFieldContainer[LineItem]
    pricing_model: VendorAgreementTrait.PricingModel
    trailing_30d_spend: _annotation_vendor_pb2.Money
    trailing_365d_spend: _annotation_vendor_pb2.Money
    ytd_spend: _annotation_vendor_pb2.Money
    external_account_manager_email: str
    external_account_manager_name: str
    def __init__(self, agreement_name: _Optional[str] = ..., start_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_date: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_date_to_terminate: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., auto_renewal: _Optional[bool] = ..., renewal_status: _Optional[_Union[VendorAgreementTrait.RenewalStatus, str]] = ..., renewal_status_raw: _Optional[str] = ..., total_value: _Optional[_Union[_annotation_vendor_pb2.Money, _Mapping]] = ..., line_items: _Optional[_Iterable[_Union[LineItem, _Mapping]]] = ..., pricing_model: _Optional[_Union[VendorAgreementTrait.PricingModel, str]] = ..., trailing_30d_spend: _Optional[_Union[_annotation_vendor_pb2.Money, _Mapping]] = ..., trailing_365d_spend: _Optional[_Union[_annotation_vendor_pb2.Money, _Mapping]] = ..., ytd_spend: _Optional[_Union[_annotation_vendor_pb2.Money, _Mapping]] = ..., external_account_manager_email: _Optional[str] = ..., external_account_manager_name: _Optional[str] = ...) -> None: ...
