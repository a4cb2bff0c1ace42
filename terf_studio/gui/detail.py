"""Detail over reduced layers: the part of a huge image in view, drawn again from the image.

A layer above ``gui.images.DISPLAY_MAX_PIXELS`` is shown reduced by a whole factor (a 179 MP
image by 4). Zoomed in past that factor, such a layer would show enlarged blocks. The canvas
then asks the layer's renderer for the region in view (plus a margin, so a short pan needs no new
drawing) at the whole step nearest to the screen's (1 from 67 % zoom up, 2 from 40 %...),
and lays that picture over the layer, with the layer's own visibility, opacity and order. The
layer leaves a hole where the detail lies, so a half-transparent layer is not drawn twice.

Drawing waits until the view has rested for ``delay_ms`` (zooming with the wheel or dragging the
scroll bars renders once, at the end), reads only the region (about 2.25 times the viewport's
pixels times the step squared), and runs on a thread of its own: on a 1600x1000 view of a
176 MP image a region takes 0.1-0.27 s to draw, which the GUI thread never waits for; it
shows the reduced layer meanwhile. A picture that arrives after its layer changed is dropped.
"""

from __future__ import annotations

import math
import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QTransform

if TYPE_CHECKING:
    from terf_studio.gui.canvas import CanvasView, SplitPixmapItem
    from terf_studio.gui.images import Render

#: Share of the view's width and height drawn on each side beyond it.
MARGIN = 0.25


Region = tuple[int, int, int, int, int]  # (x0, y0, x1, y1, step)
_ids = count(1)


@dataclass
class _Source:
    render: Render
    factor: int  # the layer's own reduction
    region: Region | None = None  # drawn now
    wanted: Region | None = None  # being drawn
    item: SplitPixmapItem | None = None
    id: int = field(default_factory=lambda: next(_ids))  # a new source for every new image


class DetailOverlay(QObject):
    """The detail pictures of one canvas (see the module notes)."""

    _arrived = Signal()

    def __init__(self, view: CanvasView, delay_ms: int = 120) -> None:
        super().__init__(view)
        self.view = view
        self._sources: dict[str, _Source] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.refresh)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="terf-detail")
        self._pending: list[Future] = []
        self._done: queue.SimpleQueue[tuple[str, int, Region, QImage]] = queue.SimpleQueue()
        self._converted: queue.SimpleQueue[tuple[str, int, Callable[[QImage], None], QImage]] = queue.SimpleQueue()
        self._latest: dict[str, int] = {}  # the newest conversion asked for each layer
        self._arrived.connect(self.deliver)
        view.destroyed.connect(lambda *_: self._pool.shutdown(wait=False, cancel_futures=True))
        self.renders = 0  # regions drawn so far (for tests and diagnostics)

    def set_source(self, key: str, render: Render | None, factor: int) -> None:
        """The renderer of layer ``key``'s new picture (None, or ``factor`` 1: the layer needs
        no detail)."""
        self.remove(key)
        if render is not None and factor > 1:
            self._sources[key] = _Source(render, factor)
            self.schedule()

    def convert_later(self, key: str, make: Callable[[], QImage], then: Callable[[QImage], None]) -> None:
        """Make layer ``key``'s reduced picture on the detail thread (0.5-2.3 s for a 179 MP
        image) and hand it to ``then`` on the GUI thread; the layer shows its previous picture
        until then. A newer picture for ``key`` (another conversion, or ``set_source``) wins."""
        ticket = next(_ids)
        self._latest[key] = ticket
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(self._convert, key, ticket, make, then))

    def _convert(self, key: str, ticket: int, make: Callable[[], QImage], then: Callable[[QImage], None]) -> None:
        self._converted.put((key, ticket, then, make()))
        self._arrived.emit()

    def remove(self, key: str) -> None:
        self._latest.pop(key, None)  # a picture still being converted for it is dropped
        source = self._sources.pop(key, None)
        if source is not None:
            self._drop_item(key, source)

    def clear(self) -> None:
        for key in list(self._sources):
            self.remove(key)

    def schedule(self) -> None:
        if self._sources:
            self._timer.start()

    def item(self, key: str) -> SplitPixmapItem | None:
        source = self._sources.get(key)
        return None if source is None else source.item

    def restyle(self, key: str) -> None:
        """Give the detail of ``key`` its layer's visibility, opacity, order and split."""
        source = self._sources.get(key)
        layer = self.view.layer_item(key)
        if source is None or source.item is None or layer is None:
            return
        source.item.setVisible(layer.isVisible())
        source.item.setOpacity(layer.opacity())
        source.item.setZValue(layer.zValue() + 0.5)  # above its layer, below the next (z steps by 1)
        source.item.set_split(layer.split_x)

    def refresh(self) -> None:
        """Draw what the view needs now; drop what it does not."""
        size = self.view.image_size
        zoom = self.view.zoom
        if size is None or zoom <= 0:
            return
        step = max(1, round(1.0 / zoom))
        seen = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        for key, source in self._sources.items():
            layer = self.view.layer_item(key)
            if layer is None or step >= source.factor or not layer.isVisible() or layer.opacity() <= 0:
                self._drop_item(key, source)
                continue
            if any(r is not None and r[4] == step and _covers(r, seen, size) for r in (source.region, source.wanted)):
                continue
            region = _region_for(seen, size, step)
            if region is None:
                self._drop_item(key, source)
                continue
            source.wanted = region
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._pool.submit(self._render, key, source.id, source.render, region))

    def _render(self, key: str, source_id: int, render: Render, region: Region) -> None:
        """On the detail thread: draw, then hand the picture to the GUI thread."""
        x0, y0, x1, y1, step = region
        self._done.put((key, source_id, region, render(x0, y0, x1, y1, step)))
        self._arrived.emit()

    def wait(self) -> None:
        """Wait for the pictures being drawn and show them (tests; the window never waits)."""
        for future in list(self._pending):
            future.result()
        self.deliver()

    def deliver(self) -> None:
        """Show the pictures that arrived, unless their layer changed or moved on meanwhile."""
        while True:
            try:
                key, ticket, then, picture = self._converted.get_nowait()
            except queue.Empty:
                break
            if self._latest.get(key) == ticket:
                then(picture)
        while True:
            try:
                key, source_id, region, image = self._done.get_nowait()
            except queue.Empty:
                return
            source = self._sources.get(key)
            if source is not None and source.id == source_id and source.wanted == region:
                source.wanted = None
                self._show(key, source, region, image)

    def _show(self, key: str, source: _Source, region: Region, image: QImage) -> None:
        from terf_studio.gui.canvas import SplitPixmapItem

        x0, y0, x1, y1, _ = region
        self.renders += 1
        if source.item is None:
            source.item = SplitPixmapItem()
            source.item.setTransformationMode(self.view.TRANSFORMATION)
            self.view.scene().addItem(source.item)
        source.item.setPixmap(QPixmap.fromImage(image))
        source.item.setPos(x0, y0)
        source.item.setTransform(QTransform.fromScale((x1 - x0) / image.width(), (y1 - y0) / image.height()))
        source.region = region
        self.restyle(key)
        layer = self.view.layer_item(key)
        if layer is not None:
            layer.set_hole(layer.mapRectFromScene(QRectF(x0, y0, x1 - x0, y1 - y0)))

    def _drop_item(self, key: str, source: _Source) -> None:
        if source.item is not None:
            self.view.scene().removeItem(source.item)
            source.item = None
        source.region = source.wanted = None
        layer = self.view.layer_item(key)
        if layer is not None:
            layer.set_hole(None)


def _region_for(seen: QRectF, size: tuple[int, int], step: int) -> Region | None:
    """The image region to draw for the scene rectangle in view: with a margin, on the step's
    grid, inside the image (None: nothing of the image is in view)."""
    w, h = size
    mx, my = seen.width() * MARGIN, seen.height() * MARGIN
    x0 = max(0, math.floor((seen.left() - mx) / step) * step)
    y0 = max(0, math.floor((seen.top() - my) / step) * step)
    x1 = min(w, math.ceil((seen.right() + mx) / step) * step)
    y1 = min(h, math.ceil((seen.bottom() + my) / step) * step)
    if x1 - x0 < step or y1 - y0 < step:
        return None
    return x0, y0, x1, y1, step


def _covers(region: Region, seen: QRectF, size: tuple[int, int]) -> bool:
    """Whether the drawn region holds all of the view that lies on the image."""
    x0, y0, x1, y1, _ = region
    left, top = max(0.0, seen.left()), max(0.0, seen.top())
    right, bottom = min(float(size[0]), seen.right()), min(float(size[1]), seen.bottom())
    return x0 <= left and y0 <= top and x1 >= right and y1 >= bottom
