"""Hostile files for the parser's limits (bench/hostile.py and the tests): HTML nested past any sane
depth, and a .docx that inflates to gigabytes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
    '"/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
    'document.main+xml"/></Types>'
)
DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)


def nested_html(depth: int) -> str:
    return "<html><body>" + "<div>x " * depth + "</div>" * depth + "</body></html>"


def zip_bomb_docx(dest: Path, inflated_mb: int) -> Path:
    """A valid-looking .docx whose document.xml inflates to ``inflated_mb`` MB of paragraphs."""
    para = "<w:p><w:r><w:t>" + "bomb " * 200 + "</w:t></w:r></w:p>"
    count = inflated_mb * 1024 * 1024 // len(para)
    head = '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
    head += 'wordprocessingml/2006/main"><w:body>'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", DOCX_TYPES)
        z.writestr("_rels/.rels", DOCX_RELS)
        with z.open("word/document.xml", "w") as doc:
            doc.write(head.encode())
            block = (para * 1000).encode()
            for _ in range(count // 1000):
                doc.write(block)
            doc.write(b"</w:body></w:document>")
    dest.write_bytes(buffer.getvalue())
    return dest
