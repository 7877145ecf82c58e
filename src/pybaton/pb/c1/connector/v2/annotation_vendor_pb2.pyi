from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Money(_message.Message):
    __slots__ = ("amount_minor", "currency_code")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    currency_code: str
    def __init__(self, amount_minor: _Optional[int] = ..., currency_code: _Optional[str] = ...) -> None: ...

class VendorTrait(_message.Message):
    __slots__ = ("vendor_id", "vendor_name", "vendor_dba_name", "website_domain", "external_vendor_id", "deep_link_url", "source_business_id", "source_entity_id", "trailing_30d_spend", "trailing_365d_spend", "ytd_spend")
    VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_NAME_FIELD_NUMBER: _ClassVar[int]
    VENDOR_DBA_NAME_FIELD_NUMBER: _ClassVar[int]
    WEBSITE_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_VENDOR_ID_FIELD_NUMBER: _ClassVar[int]
    DEEP_LINK_URL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_BUSINESS_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    TRAILING_30D_SPEND_FIELD_NUMBER: _ClassVar[int]
    TRAILING_365D_SPEND_FIELD_NUMBER: _ClassVar[int]
    YTD_SPEND_FIELD_NUMBER: _ClassVar[int]
    vendor_id: str
    vendor_name: str
    vendor_dba_name: str
    website_domain: str
    external_vendor_id: str
    deep_link_url: str
    source_business_id: str
    source_entity_id: str
    trailing_30d_spend: Money
    trailing_365d_spend: Money
    ytd_spend: Money
    def __init__(self, vendor_id: _Optional[str] = ..., vendor_name: _Optional[str] = ..., vendor_dba_name: _Optional[str] = ..., website_domain: _Optional[str] = ..., external_vendor_id: _Optional[str] = ..., deep_link_url: _Optional[str] = ..., source_business_id: _Optional[str] = ..., source_entity_id: _Optional[str] = ..., trailing_30d_spend: _Optional[_Union[Money, _Mapping]] = ..., trailing_365d_spend: _Optional[_Union[Money, _Mapping]] = ..., ytd_spend: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...
