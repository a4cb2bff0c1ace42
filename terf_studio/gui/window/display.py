"""What the canvas and the status bar show of the document: image layers, mask overlays and
their looks, the before/after split, the pixel under the cursor, the models in use."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from terf_studio.gui.images import (
    display_factor,
    image_to_qimage,
    mask_region_renderer,
    mask_to_qimage,
    region_renderer,
)
from terf_studio.gui.layers import IMAGE_LAYERS
from terf_studio.regions import Mask

if TYPE_CHECKING:
    from terf_studio.gui.window.main_window import MainWindow


class Display(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.canvas = window.canvas
        self.layers = window.layers
        self._shown_masks: dict[int, Mask] = {}  # the mask each overlay shows now

    def refresh_image(self) -> None:
        """Show the session's current result (after an edit, undo or redo)."""
        if self.window.session is not None:
            self._show_layer("result", self.window.session.current16)

    def show_session_layers(self) -> None:
        s = self.window.session
        assert s is not None
        self.canvas.clear_layers()
        self._shown_masks = {}
        for key, image in (("vi", s.vi16), ("ir", s.ir16), ("fused", s.base16), ("result", s.current16)):
            self._show_layer(key, image, fit=key == "result")
        self.refresh_masks()

    def _show_layer(self, key: str, image: np.ndarray, fit: bool = False) -> None:
        """Show ``image`` as layer ``key``. Its reduced picture (a huge image: 0.5-2.3 s at
        179 MP) is made off the GUI thread; the layer keeps its previous picture until then."""
        render = region_renderer(image)

        def show(picture: QImage) -> None:
            self.canvas.set_layer(key, picture, render)
            if later:
                self.refresh_looks()  # a new layer item takes its look
            if fit:
                self.canvas.fit()

        later = display_factor(*image.shape[:2]) > 1
        if later:
            self.canvas.detail.convert_later(key, lambda: image_to_qimage(image), show)
        else:
            show(image_to_qimage(image))

    def refresh_masks(self) -> None:
        live = {self.layers.key(uid) for uid in self.layers.uids}
        for key in self.canvas.layer_keys():
            if key not in IMAGE_LAYERS and key not in live:
                self.canvas.remove_layer(key)
        shown = {}
        for uid, mask in zip(self.layers.uids, self.layers.masks):
            if self._shown_masks.get(uid) is not mask:  # a stroke re-renders its own mask only
                self.canvas.set_layer(self.layers.key(uid), mask_to_qimage(mask), mask_region_renderer(mask))
            shown[uid] = mask
        self._shown_masks = shown
        self.window.plan_panel.set_masks([(uid, m.label) for uid, m in zip(self.layers.uids, self.layers.masks)])
        self.refresh_looks()
        self.window.update_enabled()

    def refresh_looks(self) -> None:
        """Each layer's visibility, opacity and order; View > Show masks hides every mask overlay
        (each keeps its own visibility in the Layers panel)."""
        keys = self.layers.layer_keys()
        masks_shown = self.window.act_show_masks.isChecked()
        for depth, key in enumerate(keys):
            look = self.layers.looks[key]
            visible = look.visible and (masks_shown or key in IMAGE_LAYERS)
            self.canvas.style_layer(key, visible, look.opacity, float(len(keys) - depth))

    def apply_split(self) -> None:
        on = self.window.act_compare.isChecked()
        self.canvas.set_split(self.window.split_slider.value() / 100.0 if on else None)

    def toggle_compare(self) -> None:
        if self.window.act_compare.isChecked():
            self.layers.set_look("fused", visible=True)
        self.apply_split()

    def show_pixel(self, x: int, y: int) -> None:
        s = self.window.session
        if s is None or x < 0:
            self.window.pixel_label.setText("")
            return

        def rgb(image: np.ndarray) -> str:
            v = image[y, x].astype(np.uint32) * 255 // 65535
            return f"{int(v)}" if v.ndim == 0 else ",".join(str(int(c)) for c in v)

        self.window.pixel_label.setText(
            f"x {x}  y {y}   visible {rgb(s.vi16)}   infrared {rgb(s.ir16)}   fused {rgb(s.base16)}   "
            f"result {rgb(s.current16)}   zoom {self.canvas.zoom * 100:.0f}%"
        )

    def show_models(self, parser: str | None = None) -> None:
        if self.window.session is None:
            return
        from terf_studio.device import describe_device
        from terf_studio.regions import finders

        fuser = self.window.session.fuser
        self.window.device_label.setText(f"device: {describe_device(fuser.device)}")
        names = ", ".join(f.name for f in finders())
        text = f"fusion: {fuser.arch}   regions: {names}"
        if parser:
            text += f"   parser: {parser}"
        self.window.models_label.setText(text)
