"""The layered canvas: image and mask layers in a QGraphicsScene, zoom, pan and the mask tools.

Scene coordinates are image pixels (pixel (c, r) covers [c, c+1) x [r, r+1)). The canvas only
shows things and reports what the user did (signals); the window turns those into undoable
commands on the session.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
)

from terf_studio.gui.detail import DetailOverlay
from terf_studio.gui.images import FULL_SIZE_KEY, Render

TOOLS = ("navigate", "brush", "eraser", "point", "box")
MIN_ZOOM, MAX_ZOOM = 0.05, 40.0


class SplitPixmapItem(QGraphicsPixmapItem):
    """A layer's pixmap that can hide everything left of a split line (the before/after slider
    on the "result" layer) and a hole where its detail picture lies (``gui.detail``)."""

    def __init__(self) -> None:
        super().__init__()
        self.split_x: float | None = None  # scene x
        self.hole: QRectF | None = None  # this item's coordinates

    def set_split(self, x: float | None) -> None:
        self.split_x = x
        self.update()

    def set_hole(self, rect: QRectF | None) -> None:
        self.hole = rect
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:  # noqa: ANN001 - Qt signature
        if self.split_x is not None or self.hole is not None:
            rect = self.boundingRect()
            area = QPainterPath()
            area.addRect(rect)
            if self.split_x is not None:
                x = (self.split_x - self.pos().x()) / self.transform().m11()  # scene x to this pixmap's x
                kept = QPainterPath()
                kept.addRect(QRectF(x, rect.top(), rect.right() - x, rect.height()))
                area = area.intersected(kept)
            if self.hole is not None:
                hole = QPainterPath()
                hole.addRect(self.hole)
                area = area.subtracted(hole)
            painter.setClipPath(area)
        super().paint(painter, option, widget)


class CanvasView(QGraphicsView):
    """Shows the layers; reports hover, strokes, clicks and boxes in image coordinates."""

    #: How layer pixmaps are scaled: nearest pixel, so zoomed-in pixels stay sharp squares.
    TRANSFORMATION = Qt.TransformationMode.FastTransformation

    pixel_hovered = Signal(int, int)  # -1, -1 when outside the image
    stroke_finished = Signal(list, str)  # points [(x, y)], "add" | "erase"
    point_clicked = Signal(float, float, bool)  # x, y, positive
    box_drawn = Signal(float, float, float, float)
    zoom_changed = Signal(float)

    def __init__(self, parent=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QBrush(QColor(38, 38, 42)))
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the window takes drops
        self._items: dict[str, SplitPixmapItem] = {}
        self._size: tuple[int, int] | None = None  # (w, h)
        self.tool = "navigate"
        self.brush_radius = 12.0
        self._stroke: list[tuple[float, float]] | None = None
        self._stroke_item: QGraphicsPathItem | None = None
        self._box_start: QPointF | None = None
        self._box_item: QGraphicsRectItem | None = None
        self._pan_from: QPointF | None = None
        self._space = False
        self._cursor_item = QGraphicsEllipseItem()
        self._cursor_item.setPen(QPen(QColor(255, 255, 255, 200), 0))
        self._cursor_item.setZValue(1e6)
        self._cursor_item.setVisible(False)
        self.scene().addItem(self._cursor_item)
        self._split_line = QGraphicsLineItem()
        self._split_line.setPen(QPen(QColor(255, 210, 0), 0))
        self._split_line.setZValue(1e6 - 1)
        self._split_line.setVisible(False)
        self.scene().addItem(self._split_line)
        self._split: float | None = None
        self.detail = DetailOverlay(self)
        self.horizontalScrollBar().valueChanged.connect(self.detail.schedule)
        self.verticalScrollBar().valueChanged.connect(self.detail.schedule)
        self.zoom_changed.connect(self.detail.schedule)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        self.detail.schedule()

    # -- layers ------------------------------------------------------------------------------
    @property
    def image_size(self) -> tuple[int, int] | None:
        return self._size

    def set_layer(self, key: str, image: QImage, render: Render | None = None) -> None:
        """Create or update the pixmap of layer ``key``. ``render`` draws regions of the image
        ``image`` shows; a reduced ``image`` (``gui.images``) with one gets its detail when zoomed
        in past its reduction (``gui.detail``)."""
        item = self._items.get(key)
        if item is None:
            item = SplitPixmapItem()
            item.setTransformationMode(self.TRANSFORMATION)
            self.scene().addItem(item)
            self._items[key] = item
            if key == "result":
                item.set_split(self._split_x())
        item.setPixmap(QPixmap.fromImage(image))
        size = (image.width(), image.height())
        full = image.text(FULL_SIZE_KEY)  # a reduced display image (gui.images) stands for this size
        factor = 1
        if full:
            fw, fh = (int(v) for v in full.split("x"))
            item.setTransform(QTransform.fromScale(fw / size[0], fh / size[1]))
            factor = round(fw / size[0])
            size = (fw, fh)
        elif not item.transform().isIdentity():
            item.setTransform(QTransform())
        self.detail.set_source(key, render, factor)
        if size != self._size:
            self._size = size
            self.scene().setSceneRect(QRectF(0, 0, *size))
            self._place_split_line()

    def remove_layer(self, key: str) -> None:
        self.detail.remove(key)
        item = self._items.pop(key, None)
        if item is not None:
            self.scene().removeItem(item)

    def layer_keys(self) -> list[str]:
        return list(self._items)

    def style_layer(self, key: str, visible: bool, opacity: float, z: float) -> None:
        item = self._items.get(key)
        if item is not None:
            item.setVisible(visible)
            item.setOpacity(opacity)
            item.setZValue(z)
            self.detail.restyle(key)
            self.detail.schedule()  # a layer shown again may need its detail

    def layer_item(self, key: str) -> SplitPixmapItem | None:
        return self._items.get(key)

    def clear_layers(self) -> None:
        for key in list(self._items):
            self.remove_layer(key)
        self._size = None

    # -- before/after split ------------------------------------------------------------------
    def set_split(self, fraction: float | None) -> None:
        """Show the fusion left of ``fraction`` of the width and the result right of it (None: off)."""
        self._split = fraction
        item = self._items.get("result")
        if item is not None:
            item.set_split(self._split_x())
            self.detail.restyle("result")
        self._place_split_line()

    def _split_x(self) -> float | None:
        if self._split is None or self._size is None:
            return None
        return self._split * self._size[0]

    def _place_split_line(self) -> None:
        x = self._split_x()
        self._split_line.setVisible(x is not None)
        if x is not None and self._size is not None:
            self._split_line.setLine(x, 0, x, self._size[1])

    # -- zoom --------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        factor = zoom / self.zoom
        self.scale(factor, factor)
        self.zoom_changed.emit(self.zoom)

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        if self._size is not None:
            self.fitInView(QRectF(0, 0, *self._size), Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom_changed.emit(self.zoom)

    def wheelEvent(self, event) -> None:  # noqa: ANN001
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120.0
            self.zoom_by(math.pow(1.25, steps))
            event.accept()
        else:
            super().wheelEvent(event)

    # -- tools -------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.cancel_gesture()
        self.tool = tool
        painting = tool in ("brush", "eraser")
        self._cursor_item.setVisible(False)
        self.viewport().setCursor(
            Qt.CursorShape.CrossCursor if tool in ("point", "box") or painting else Qt.CursorShape.ArrowCursor
        )

    def set_brush_radius(self, radius: float) -> None:
        self.brush_radius = max(1.0, min(500.0, radius))
        self._cursor_item.setRect(self._cursor_rect(self._cursor_item.rect().center()))

    def _cursor_rect(self, centre: QPointF) -> QRectF:
        r = self.brush_radius
        return QRectF(centre.x() - r, centre.y() - r, 2 * r, 2 * r)

    def cancel_gesture(self) -> bool:
        """Drop a stroke or box being drawn (Esc); True when there was one."""
        had = self._stroke is not None or self._box_start is not None
        self._stroke = None
        self._box_start = None
        for attr in ("_stroke_item", "_box_item"):
            item = getattr(self, attr)
            if item is not None:
                self.scene().removeItem(item)
                setattr(self, attr, None)
        return had

    def _image_point(self, event) -> QPointF:  # noqa: ANN001
        return self.mapToScene(event.position().toPoint())

    def _inside(self, p: QPointF) -> bool:
        return self._size is not None and 0 <= p.x() < self._size[0] and 0 <= p.y() < self._size[1]

    def mousePressEvent(self, event) -> None:  # noqa: ANN001
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if self._size is None:
            return super().mousePressEvent(event)
        p = self._image_point(event)
        if self.tool in ("brush", "eraser") and button == Qt.MouseButton.LeftButton:
            self._stroke = [(p.x(), p.y())]
            self._stroke_item = QGraphicsPathItem()
            colour = QColor(255, 255, 255, 110) if self.tool == "brush" else QColor(0, 0, 0, 110)
            pen = QPen(colour, 2 * self.brush_radius, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                       Qt.PenJoinStyle.RoundJoin)
            self._stroke_item.setPen(pen)
            self._stroke_item.setZValue(1e6 - 2)
            self.scene().addItem(self._stroke_item)
            self._update_stroke_path()
        elif self.tool == "point" and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            if self._inside(p):
                self.point_clicked.emit(p.x(), p.y(), button == Qt.MouseButton.LeftButton)
        elif self.tool == "box" and button == Qt.MouseButton.LeftButton:
            self._box_start = p
            self._box_item = QGraphicsRectItem(QRectF(p, p))
            self._box_item.setPen(QPen(QColor(255, 210, 0), 0, Qt.PenStyle.DashLine))
            self._box_item.setZValue(1e6 - 2)
            self.scene().addItem(self._box_item)
        else:
            return super().mousePressEvent(event)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: ANN001
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            event.accept()
            return
        p = self._image_point(event)
        if self._inside(p):
            self.pixel_hovered.emit(int(p.x()), int(p.y()))
        else:
            self.pixel_hovered.emit(-1, -1)
        if self.tool in ("brush", "eraser"):
            self._cursor_item.setRect(self._cursor_rect(p))
            self._cursor_item.setVisible(True)
        if self._stroke is not None:
            self._stroke.append((p.x(), p.y()))
            self._update_stroke_path()
        elif self._box_start is not None and self._box_item is not None:
            self._box_item.setRect(QRectF(self._box_start, p).normalized())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: ANN001
        if self._pan_from is not None:
            self._pan_from = None
            self.set_tool(self.tool)
            event.accept()
            return
        if self._stroke is not None and event.button() == Qt.MouseButton.LeftButton:
            points, mode = self._stroke, "add" if self.tool == "brush" else "erase"
            self.cancel_gesture()
            # Stroke coordinates put pixel centres at integers (see regions.strokes).
            self.stroke_finished.emit([(x - 0.5, y - 0.5) for x, y in points], mode)
            event.accept()
            return
        if self._box_start is not None and event.button() == Qt.MouseButton.LeftButton:
            rect = QRectF(self._box_start, self._image_point(event)).normalized()
            self.cancel_gesture()
            if rect.width() >= 3 and rect.height() >= 3:
                self.box_drawn.emit(rect.left(), rect.top(), rect.right(), rect.bottom())
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: ANN001
        self._cursor_item.setVisible(False)
        self.pixel_hovered.emit(-1, -1)
        super().leaveEvent(event)

    def _update_stroke_path(self) -> None:
        if self._stroke_item is None or not self._stroke:
            return
        path = QPainterPath(QPointF(*self._stroke[0]))
        for x, y in self._stroke[1:]:
            path.lineTo(x, y)
        if len(self._stroke) == 1:
            path.lineTo(self._stroke[0][0] + 0.01, self._stroke[0][1])
        self._stroke_item.setPath(path)

    def keyPressEvent(self, event) -> None:  # noqa: ANN001
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: ANN001
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.set_tool(self.tool)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def scene_items(self) -> list[QGraphicsItem]:
        return list(self.scene().items())
