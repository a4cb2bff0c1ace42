"""Live strength of the latest step: a slider in the plan panel that previews while dragging and
makes one undo entry on release.

Only a step made by the fast engine can change its strength (the session re-renders it in a
forward pass); fine-tuned steps keep theirs. Previews are background jobs on the worker: a newer
value replaces a waiting request and cancels a running one, and a preview that arrives after a
newer value was asked for (or after the document changed) is dropped, so the canvas only ever
shows the newest value. Releasing runs ``session.set_strength`` as a user job, whose callback
pushes its step like any other (Ctrl+Z returns to the previous strength).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QWidget

from terf_studio.gui.commands import StepCommand
from terf_studio.gui.images import image_to_qimage
from terf_studio.gui.worker import Job, Progress
from terf_studio.language.plan import MAX_STRENGTH
from terf_studio.tuning import CancelToken

if TYPE_CHECKING:
    from terf_studio.document.session import EditSession, Step
    from terf_studio.gui.window.main_window import MainWindow

STEPS_PER_UNIT = 20  # slider resolution: 0.05
KEY_COMMIT_MS = 600  # a keyboard or wheel change is applied once the keys rest this long
SAME = 1e-6

ENABLED_TIP = ("Strength of the latest step: drag to preview, release to apply (one undo entry; "
               "Ctrl+Z returns to the previous strength)")
DISABLED_TIP = ("Only a step made by the fast engine can change its strength here: fine-tuned steps "
                "(Fine-tune or Exact engine) keep their strength. Choose Edit > Engine > Fast to make "
                "new steps adjustable.")


class StrengthSlider(QWidget):
    """``Strength [----|----] ×1.00``: 0 to MAX_STRENGTH in steps of 0.05."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round(MAX_STRENGTH * STEPS_PER_UNIT))
        self.slider.setSingleStep(1)
        self.slider.setPageStep(STEPS_PER_UNIT // 4)
        self.slider.setValue(STEPS_PER_UNIT)
        self.label = QLabel()
        self.label.setMinimumWidth(44)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Latest step strength"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(lambda _v: self._show_value())
        self._show_value()

    def value(self) -> float:
        return self.slider.value() / STEPS_PER_UNIT

    def set_value(self, strength: float) -> None:
        """Move the handle without emitting anything (the session's value, not the user's)."""
        self.slider.blockSignals(True)
        self.slider.setValue(round(strength * STEPS_PER_UNIT))
        self.slider.blockSignals(False)
        self._show_value()

    def _show_value(self) -> None:
        self.label.setText(f"×{self.value():.2f}")


class StrengthController(QObject):
    """Wires the slider (and the plan table's strength box for the latest step) to the session."""

    preview_shown = Signal(float)  # the strength whose preview the canvas now shows

    def __init__(self, window: MainWindow, widget: StrengthSlider) -> None:
        super().__init__(window)
        self.window = window
        self.widget = widget
        self.slider = widget.slider
        self._seq = 0  # bumped by every preview request and every change of the latest step
        self._key: tuple | None = None  # which step the slider shows
        self._previewing = False  # the canvas shows a preview, not the session's image
        self._spin: QDoubleSpinBox | None = None  # the plan table's box linked to the latest step
        self.dropped = 0  # previews that arrived too late to show
        self._key_timer = QTimer(self)
        self._key_timer.setSingleShot(True)
        self._key_timer.setInterval(KEY_COMMIT_MS)
        self._key_timer.timeout.connect(lambda: self.commit(self.widget.value()))
        self.slider.valueChanged.connect(self._on_value)
        self.slider.sliderReleased.connect(lambda: self.commit(self.widget.value()))
        self.refresh()

    # -- state ---------------------------------------------------------------------------------
    @property
    def session(self) -> EditSession | None:
        return self.window.session

    def current_strength(self) -> float | None:
        """The latest step's strength when it can change, else None."""
        s = self.session
        if s is None or not s.strength_adjustable():
            return None
        return float(s.steps[s.cursor - 1].edits[0].edit.strength)

    def _latest_key(self) -> tuple | None:
        s = self.session
        if s is None:
            return None
        return (id(s), s.cursor, id(s.steps[s.cursor - 1]) if s.cursor else None)

    def refresh(self) -> None:
        """Follow the document: a different latest step resets the slider and drops previews."""
        key = self._latest_key()
        strength = self.current_strength()
        if key != self._key:
            self._key = key
            self._drop_previews()
            self._key_timer.stop()
            if strength is not None:
                self.widget.set_value(strength)
        enabled = strength is not None and not self.window.runner.busy
        self.widget.setEnabled(enabled)
        self.widget.setToolTip(ENABLED_TIP if strength is not None else DISABLED_TIP)
        self.slider.setToolTip(self.widget.toolTip())
        self._link_spin(strength)

    def _link_spin(self, strength: float | None) -> None:
        """The plan table's strength box edits the latest step when the table shows that edit."""
        spin: QDoubleSpinBox | None = None
        s, panel = self.session, self.window.plan_panel
        if strength is not None and s is not None and panel.table.rowCount() == 1:
            edit = s.steps[s.cursor - 1].edits[0].edit
            task = panel.task_box(0).currentText()
            target = panel.target_box(0).text().strip() or None
            if task == edit.task.value and target == edit.target:
                spin = panel.strength_box(0)
        if spin is not self._spin:
            if self._spin is not None:
                try:
                    self._spin.editingFinished.disconnect(self._on_spin)
                except (RuntimeError, TypeError):  # the table already deleted it
                    pass
            self._spin = spin
            if spin is not None:
                spin.editingFinished.connect(self._on_spin)
                spin.setToolTip("Strength of the latest step (fast engine): Enter applies it as a new undo entry")
        if spin is not None and strength is not None and not spin.hasFocus():
            spin.blockSignals(True)
            spin.setValue(strength)
            spin.blockSignals(False)

    # -- previews ------------------------------------------------------------------------------
    def _on_value(self, _value: int) -> None:
        value = self.widget.value()
        if self.current_strength() is None:
            return
        self.request_preview(value)
        if not self.slider.isSliderDown():  # keys, wheel or a click on the groove: apply once they rest
            self._key_timer.start()

    def request_preview(self, value: float) -> None:
        """Ask the worker for the image at ``value``; only the newest request is ever shown."""
        if self.session is None:
            return
        self._seq += 1
        self.window.runner.submit_background(self.preview_job(value, self._seq))

    def preview_job(self, value: float, seq: int) -> Job[QImage]:
        """The background job rendering ``value``; its result shows only if ``seq`` is still the
        newest request when it arrives."""
        session = self.session
        assert session is not None

        def job(progress: Progress, cancel: CancelToken) -> QImage:
            return image_to_qimage(session.preview_strength(value, cancel=cancel))

        return Job(f"Preview strength {value:g}", job, "preview", priority=-1,
                   on_done=lambda image: self._on_preview(seq, value, image))

    def _on_preview(self, seq: int, value: float, image: QImage) -> None:
        if seq != self._seq or self.window.runner.busy:
            self.dropped += 1
            return
        self.window.canvas.set_layer("result", image)
        self._previewing = True
        self.preview_shown.emit(float(value))

    def _drop_previews(self) -> None:
        """Forget previews asked for and show the session's own image again."""
        self._seq += 1
        self.window.runner.drop_background("preview")
        if self._previewing:
            self._previewing = False
            self.window.refresh_image()

    # -- committing ----------------------------------------------------------------------------
    def _on_spin(self) -> None:
        if self._spin is not None:
            self.commit(self._spin.value())

    def commit(self, value: float) -> bool:
        """Apply ``value`` to the latest step as a new step; True when a job started."""
        self._key_timer.stop()
        current = self.current_strength()
        session = self.session
        if current is None or session is None or self.window.runner.busy:
            self._drop_previews()
            return False
        if abs(value - current) < SAME:
            self._drop_previews()
            return False
        if value <= 0:
            self._drop_previews()
            self.widget.set_value(current)
            self.window.message(f"strength 0 would remove the step: undo it instead (Ctrl+Z); "
                                f"it stays at {current:g}", error=True)
            return False
        self._seq += 1  # previews still on their way are out of date now
        self.window.runner.drop_background("preview")

        def job(progress: Progress, cancel: CancelToken) -> Step:
            progress("changing the strength", 0, 1)
            return session.set_strength(value, cancel=cancel)

        def failed(message: str, _exc: Exception) -> None:
            self._on_commit_lost()
            self.window.error(message)

        return self.window.jobs.start(f"Strength {value:g}", job, self.on_step, failed, self._on_commit_lost)

    def on_step(self, step: Step) -> None:
        """A strength job finished: one undo entry (its masks are already layers)."""
        session = self.session
        assert session is not None
        self._previewing = False
        self.window.push(StepCommand(session, step, self.window.refresh_image))
        seconds = sum(a.info.get("seconds", 0) for a in step.edits)
        self.window.message(f"done: {step.text} ({seconds:.1f} s); Ctrl+Z returns to the previous strength")

    def _on_commit_lost(self) -> None:
        """A strength job failed or was cancelled: the session's image and value again."""
        self._drop_previews()
        strength = self.current_strength()
        if strength is not None:
            self.widget.set_value(strength)
