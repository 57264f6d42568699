"""The QR code printed on a licence: the public verification page's address, with the holder's access token.

segno writes it (SVG for pages, PNG for print); error correction level M survives a
creased or smudged print.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import segno


def verify_url(base_url: str, licence_id: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/certs/v/{quote(licence_id)}?k={token}"


def qr_svg(url: str, *, scale: int = 4) -> str:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", scale=scale, xmldecl=False, svgns=True, title="扫码核验")
    return buf.getvalue().decode("utf-8")


def qr_png(url: str, *, scale: int = 8) -> bytes:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
