"""Hostile files written on the spot: small on disk, huge once inflated or parsed.

Used by the abuse tests and by ``scripts/bench_hostile.py``. Every writer streams
what it compresses, so making a file that inflates to a gigabyte takes little
memory here.
"""

from __future__ import annotations

import struct
import zlib
import zipfile
from pathlib import Path

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="word/document.xml"/></Relationships>'
)
_PARAGRAPH = b"<w:p><w:r><w:t>Lorem ipsum dolor sit amet.</w:t></w:r></w:p>"


def docx_bomb(path: Path, *, inflated: int, lie: bool = False) -> Path:
    """A valid .docx whose main part inflates to about ``inflated`` bytes of paragraphs.

    With ``lie`` the ZIP headers (local and central) say the main part is 1,000 bytes.
    """
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'.encode()
    tail = b"</w:body></w:document>"
    block = _PARAGRAPH * (1 << 14)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        with zf.open("word/document.xml", "w", force_zip64=inflated > 2**31) as f:
            f.write(head)
            written = len(head)
            while written < inflated:
                f.write(block)
                written += len(block)
            f.write(tail)
    if lie:
        _lie_about_size(path, b"word/document.xml", 1_000)
    return path


def _lie_about_size(path: Path, name: str | bytes, size: int) -> None:
    """Write ``size`` as the uncompressed size of member ``name`` in its local and central headers."""
    data = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(sig)
        while at != -1:
            name_at = at + (30 if sig == b"PK\x03\x04" else 46)
            n = struct.unpack_from("<H", data, at + (26 if sig == b"PK\x03\x04" else 28))[0]
            if bytes(data[name_at:name_at + n]) == name:
                struct.pack_into("<I", data, at + offset, size)
            at = data.find(sig, at + 4)
    path.write_bytes(bytes(data))


def big_html(path: Path, *, size: int) -> Path:
    """A web page of about ``size`` bytes of short paragraphs."""
    with path.open("wb") as f:
        f.write(b"<!doctype html><html><head><title>Big page</title></head><body><article>")
        block = b"<p>A short paragraph of an enormous page.</p>\n" * 1000
        written = 0
        while written < size:
            f.write(block)
            written += len(block)
        f.write(b"</article></body></html>")
    return path


def pdf_bomb(path: Path, *, pages: int, stream: int, padding: int = 0) -> Path:
    """A PDF of ``pages`` pages, each drawing text from a FlateDecode content stream that
    inflates to about ``stream`` bytes (a few kB each on disk); ``padding`` bytes of noise
    in an object nothing uses make the file larger (its compression ratio smaller)."""
    line = b"(" + b"Lorem ipsum dolor sit amet " * 4 + b") Tj T*\n"
    body = b"BT /F1 10 Tf 12 TL 72 720 Td\n" + line * (stream // len(line)) + b"ET\n"
    packed = zlib.compress(body, 9)
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(f"<< /Length {len(packed)} /Filter /FlateDecode >>\nstream\n".encode() + packed
                       + b"\nendstream")
    if padding:
        import os

        objects.append(f"<< /Length {padding} >>\nstream\n".encode() + os.urandom(padding) + b"\nendstream")
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for n, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path
