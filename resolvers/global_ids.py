"""Global, opaque node ids: ``base64url("Type:pk")``."""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_global_id", "encode_global_id"]


def encode_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_global_id(global_id: str) -> tuple[str, int] | None:
    """``(type_name, pk)``, or None for anything that is not one of our ids."""
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if not type_name.isalpha() or not pk.isdigit() or len(pk) > 18:
        return None
    return type_name, int(pk)
