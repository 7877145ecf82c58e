from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssetRef(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AssetServiceGetAssetRequest(_message.Message):
    __slots__ = ("asset",)
    ASSET_FIELD_NUMBER: _ClassVar[int]
    asset: AssetRef
    def __init__(self, asset: _Optional[_Union[AssetRef, _Mapping]] = ...) -> None: ...

class AssetServiceGetAssetResponse(_message.Message):
    __slots__ = ("metadata", "data")
    class Metadata(_message.Message):
        __slots__ = ("content_type",)
        CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
        content_type: str
        def __init__(self, content_type: _Optional[str] = ...) -> None: ...
    class Data(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: bytes
        def __init__(self, data: _Optional[bytes] = ...) -> None: ...
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    metadata: AssetServiceGetAssetResponse.Metadata
    data: AssetServiceGetAssetResponse.Data
    def __init__(self, metadata: _Optional[_Union[AssetServiceGetAssetResponse.Metadata, _Mapping]] = ..., data: _Optional[_Union[AssetServiceGetAssetResponse.Data, _Mapping]] = ...) -> None: ...
