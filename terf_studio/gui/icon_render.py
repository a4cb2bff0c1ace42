"""SVG to PNG with Qt's SVG renderer, for the desktop icons (:mod:`terf_studio.desktop`).

Painting into a QImage needs no application object, so this also runs from the command line
without a display.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from terf_studio.errors import TerfError


def render_svg_png(svg: Path, size: int) -> bytes:
    """``svg`` drawn into a transparent ``size`` x ``size`` image, as PNG bytes."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise TerfError(f"cannot read the icon {svg} as SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # the stubs say bytes; it takes str
        raise TerfError(f"cannot encode the {size}x{size} icon as PNG")
    buffer.close()
    return bytes(data.data())
