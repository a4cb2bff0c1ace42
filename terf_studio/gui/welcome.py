"""The welcome panel the empty editor shows: open a pair or a project, try the sample pair, drop
files; hidden once a document is open (the window's ``update_enabled`` decides)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from terf_studio.errors import TerfError
from terf_studio.paths import resource_path

SAMPLE_FILES = ("night-street-vi.png", "night-street-ir.png")


def sample_pair() -> tuple[Path, Path]:
    """The bundled synthetic sample (visible, infrared) in ``resources/samples/``; a TerfError when missing."""
    vi, ir = (resource_path("samples", name) for name in SAMPLE_FILES)
    missing = [str(p) for p in (vi, ir) if not p.is_file()]
    if missing:
        raise TerfError(f"the sample pair is missing ({', '.join(missing)}): run packaging/make-sample.py")
    return vi, ir


class WelcomePanel(QWidget):
    """A card over the (empty) canvas; it follows the canvas's size. Each button is a signal."""

    open_pair_requested = Signal()
    open_project_requested = Signal()
    sample_requested = Signal()
    models_requested = Signal()

    def __init__(self, over: QWidget) -> None:
        super().__init__(over)
        self.setObjectName("welcome")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        card = QFrame(self)
        card.setObjectName("welcome-card")
        card.setFrameShape(QFrame.Shape.StyledPanel)
        title = QLabel("<h2>TeRF Studio</h2>")
        # Lines broken by hand: word-wrapped labels in a card placed by hand get clipped heights.
        intro = QLabel("Fuse a visible and an infrared image, then change regions of the<br>"
                       "result by typing (<i>brighten the trees</i>), clicking or painting.")
        self.open_pair_button = QPushButton("Open pair…")
        self.open_pair_button.setToolTip("Choose a visible and an infrared image (Ctrl+O)")
        self.open_project_button = QPushButton("Open project…")
        self.open_project_button.setToolTip("Open a .terf project (Ctrl+Shift+O)")
        self.sample_button = QPushButton("Try a sample")
        self.sample_button.setToolTip("Open the bundled synthetic night-street pair")
        self.drop_hint = QLabel("Or drop two images (visible and infrared) or a .terf project<br>on this window.")
        models = QLabel("No learned region models are needed: click, box or paint a region,<br>or name it. "
                        "<a href='models'>Help &gt; Models</a> shows what is installed and adds more.")
        models.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        models.linkActivated.connect(lambda _link: self.models_requested.emit())
        layout = QVBoxLayout(card)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(10)
        for widget in (title, intro, self.open_pair_button, self.open_project_button, self.sample_button,
                       self.drop_hint, models):
            layout.addWidget(widget)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)
        self.open_pair_button.clicked.connect(self.open_pair_requested)
        self.open_project_button.clicked.connect(self.open_project_requested)
        self.sample_button.clicked.connect(self.sample_requested)
        self.sample_button.setEnabled(all(resource_path("samples", n).is_file() for n in SAMPLE_FILES))
        over.installEventFilter(self)
        self.setGeometry(over.rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize and isinstance(watched, QWidget):
            self.setGeometry(watched.rect())
        return False
