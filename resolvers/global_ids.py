"""Global, opaque node ids: ``base64url("Type:pk")``."""

from __future__ import annotations

import base64
import binascii

__all__ = ["MAX_PK", "decode_global_id", "encode_global_id"]

# Primary keys are INTEGER columns (32-bit on PostgreSQL): a larger number can name no row,
# and binding one makes asyncpg fail the whole query instead of finding nothing.
MAX_PK = 2**31 - 1


def encode_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_global_id(global_id: str) -> tuple[str, int] | None:
    """``(type_name, pk)``, or None for anything that is not one of our ids."""
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    # str.isdigit() also accepts digits int() refuses ("²"): only the spelling we encode counts.
    if not type_name.isalpha() or not (pk.isascii() and pk.isdigit()) or len(pk) > 10:
        return None
    number = int(pk)
    if number > MAX_PK or str(number) != pk:
        return None
    return type_name, number
