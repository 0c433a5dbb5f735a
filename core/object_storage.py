"""The object-storage port: where uploaded photos (appeals) are kept."""

from __future__ import annotations

from typing import Protocol

from core.errors import ValidationFailedError

ALLOWED_TYPES = {"image/jpeg": "jpg", "image/png": "png"}


class ObjectTooLargeError(ValidationFailedError):
    """An upload over the configured size."""

    code = "object_too_large"
    status = 413
    message_zh = "照片过大"


class ObjectStore(Protocol):
    """Stores bytes under a key and reads them back."""

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store the bytes; answers the reference to keep (the key)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The stored bytes, or None."""
        ...


def check_image(data: bytes, content_type: str, max_bytes: int) -> str:
    """The file extension of an acceptable image upload, or a 4xx."""
    if content_type not in ALLOWED_TYPES:
        raise ValidationFailedError("仅支持 JPEG 或 PNG 照片", detail=content_type)
    if not data:
        raise ValidationFailedError("照片为空")
    if len(data) > max_bytes:
        raise ObjectTooLargeError(detail=f"{len(data)} > {max_bytes}")
    jpeg, png = data[:3] == b"\xff\xd8\xff", data[:8] == b"\x89PNG\r\n\x1a\n"
    if not (jpeg if content_type == "image/jpeg" else png):
        raise ValidationFailedError("照片格式与声明不符", detail=content_type)
    return ALLOWED_TYPES[content_type]
