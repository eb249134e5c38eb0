"""How long a text really is: GSM-7 (160 characters a segment) or UCS-2 (70), as carriers count.

One character outside GSM-7 (Spanish á, í, ó, ú; any emoji) switches the whole text to
UCS-2 and cuts a segment to 70 characters. ``sms_safe`` writes such letters without their
accent so a text stays in GSM-7 and within one 160-character segment; é, ñ, ü, ¿ and ¡
are in GSM-7 and stay.
"""

from __future__ import annotations

import unicodedata

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each costs two septets (an escape and the character).
GSM7_EXTENDED = "^{}\\[~]|€\f"
GSM7_SEGMENT, UCS2_SEGMENT = 160, 70


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def length(text: str) -> tuple[str, int]:
    """("gsm7", septets) or ("ucs2", UTF-16 code units)."""
    if is_gsm7(text):
        return "gsm7", sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
    return "ucs2", len(text.encode("utf-16-le")) // 2


def fits_one_segment(text: str) -> bool:
    encoding, size = length(text)
    return size <= (GSM7_SEGMENT if encoding == "gsm7" else UCS2_SEGMENT)


def sms_safe(text: str) -> str:
    """The text in GSM-7 where a letter only needs its accent dropped (á -> a); other characters are kept."""
    out = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(c in GSM7_BASIC for c in base) else ch)
    return "".join(out)
