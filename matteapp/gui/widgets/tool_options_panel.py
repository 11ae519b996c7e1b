"""The trimap tools: which tool, which class it paints, brush size, overlay opacity and the unknown band.

Shortcuts (single keys, like Photoshop's; active while the panel's window is active, and the main
window may also put :meth:`ToolOptionsPanel.shortcut_actions` into its menus):

=====================  ===========
Brush                  B
Lasso                  L
Fill                   G
Auto-trimap rectangle  R
Refine Edge brush      E
Hand (pan)             H
Foreground             1
Background             2
Unknown                3
Swap Foreground ⇄ Background  X
Smaller / larger brush  [ / ]
Invert trimap          Ctrl+Shift+I
=====================  ===========
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from matteapp.engine.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from matteapp.gui.widgets.panel_layout import compact, note_label, section_header

TOOLS = ("rect", "brush", "lasso", "fill", "refine", "pan")
"""Tool names as emitted by ``toolChanged`` (the canvas calls the hand tool "none")."""

_TOOL_INFO = {
    # name: (button text, shortcut, what it does)
    "brush": ("Brush", "B", "Paint the selected class with a round brush."),
    "lasso": ("Lasso", "L", "Fill a freehand outline with the selected class; click points and double-click to close a polygon."),
    "fill": ("Fill", "G", "Flood-fill the clicked region of one class with the selected class."),
    "rect": ("Rectangle", "R", "Drag a rectangle around the subject: the trimap is made automatically (GrabCut). "
             "The first tool on a new photo."),
    "refine": ("Refine Edge", "E", "Paint over hair, fur and other fine edges: the strokes become Unknown and the "
               "matte under them is computed again at once (after a run)."),
    "pan": ("Hand", "H", "Drag to move around the photo. Space held down pans with any tool."),
}

CLASSES = (FOREGROUND, BACKGROUND, UNKNOWN)
_CLASS_INFO = {
    FOREGROUND: ("Foreground", "1", "Definitely the subject: alpha 1."),
    BACKGROUND: ("Background", "2", "Definitely not the subject: alpha 0."),
    UNKNOWN: ("Unknown", "3", "Mixed pixels — hair, fur, soft or blurred edges: the model estimates alpha here."),
}
_DEFAULT_CLASS_COLORS = {FOREGROUND: QColor(255, 255, 255), BACKGROUND: QColor(0, 0, 0), UNKNOWN: QColor(128, 128, 128)}

BRUSH_MIN, BRUSH_MAX = 1, 1000
BAND_MIN, BAND_MAX = 1, 500
_LOG_STEPS = 1000  # slider positions across the brush range
_BRUSH_STEP = 1.25  # [ and ] scale the brush by this factor, as Photoshop's steps grow with the size


def _brush_to_slider(size: float) -> int:
    size = min(max(size, BRUSH_MIN), BRUSH_MAX)
    return round(_LOG_STEPS * math.log(size / BRUSH_MIN) / math.log(BRUSH_MAX / BRUSH_MIN))


def _slider_to_brush(position: int) -> int:
    # log scale: a pixel of slider travel is a constant *ratio* of brush size, fine at 3 px and at 600 px
    return round(BRUSH_MIN * (BRUSH_MAX / BRUSH_MIN) ** (position / _LOG_STEPS))


def _tooltip(title: str, shortcut: str | None, text: str) -> str:
    key = f" <span style='color:gray'>({shortcut})</span>" if shortcut else ""
    return f"<b>{title}</b>{key}<br>{text}"


def _swatch(color: QColor, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setPen(QColor(90, 90, 90))
    painter.setBrush(color)
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return QIcon(pixmap)


class ToolOptionsPanel(QWidget):
    """Tool, class, brush and trimap controls.  Signals fire on user input only; setters are silent.

    ``classChanged`` carries the trimap value (255 foreground, 0 background, 128 unknown);
    ``brushSizeChanged`` the brush *diameter* in image pixels; ``opacityChanged`` the trimap
    overlay's opacity in [0, 1]; ``bandWidthChanged`` the unknown band's width in pixels, or None
    for the automatic width (emitted continuously while the slider is dragged); ``smartRadiusChanged``
    whether automatic trimaps widen their band over hair; ``refineRequested`` for Refine with Strokes.
    """

    toolChanged = Signal(str)
    classChanged = Signal(int)
    brushSizeChanged = Signal(float)
    opacityChanged = Signal(float)
    bandWidthChanged = Signal(object)
    smartRadiusChanged = Signal(bool)
    refineRequested = Signal()
    trimapFromAlphaRequested = Signal()
    invertRequested = Signal()
    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._tool = "brush"  # the window picks the Rectangle for each new photo
        self._class = FOREGROUND
        layout = compact(QVBoxLayout(self))

        # -- tools
        layout.addWidget(section_header("Tool"))
        self._tool_group = QActionGroup(self)
        self._tool_actions: dict[str, QAction] = {}
        tools = compact(QGridLayout(), 0)
        for i, name in enumerate(TOOLS):
            text, key, what = _TOOL_INFO[name]
            action = self._action(text, key, _tooltip(text, key, what), checkable=True)
            action.setData(name)
            self._tool_group.addAction(action)
            self._tool_actions[name] = action
            tools.addWidget(self._button(action), i // 3, i % 3)
        self._tool_actions[self._tool].setChecked(True)
        self._tool_group.triggered.connect(lambda action: self._user_set_tool(action.data()))
        layout.addLayout(tools)

        # -- classes
        self._class_header = section_header("Paint as")
        layout.addWidget(self._class_header)
        self._class_group = QActionGroup(self)
        self._class_actions: dict[int, QAction] = {}
        classes = compact(QHBoxLayout(), 0)
        for value in CLASSES:
            text, key, what = _CLASS_INFO[value]
            action = self._action(text, key, _tooltip(text, key, what), checkable=True)
            action.setData(value)
            self._class_group.addAction(action)
            self._class_actions[value] = action
            button = self._button(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            classes.addWidget(button)
        self._class_actions[self._class].setChecked(True)
        self._class_group.triggered.connect(lambda action: self._user_set_class(action.data()))
        self._swap_action = self._action(
            "Swap Foreground/Background", "X", _tooltip("Swap Foreground ⇄ Background", "X", "Switch the painted class.")
        )
        self._swap_action.triggered.connect(self._swap_class)
        self.set_class_colors(_DEFAULT_CLASS_COLORS)
        layout.addLayout(classes)

        # -- brush, overlay and band share one grid, so that their sliders and spin boxes line up
        grid = compact(QGridLayout(), 0)
        grid.setColumnStretch(1, 1)
        grid.addWidget(section_header("Brush & overlay"), 0, 0, 1, 3)
        self._size_label = QLabel("Size")
        self._size_slider = QSlider(Qt.Orientation.Horizontal)
        self._size_slider.setRange(0, _LOG_STEPS)
        self._size_spin = QSpinBox()
        self._size_spin.setRange(BRUSH_MIN, BRUSH_MAX)
        self._size_spin.setSuffix(" px")
        self._size_spin.setKeyboardTracking(False)
        size_tip = _tooltip("Brush size", "[ / ]", "Diameter in photo pixels (not screen pixels), 1–1000 px.")
        for w in (self._size_label, self._size_slider, self._size_spin):
            w.setToolTip(size_tip)
        self._size_slider.valueChanged.connect(self._brush_slider_moved)
        self._size_spin.valueChanged.connect(self._brush_spin_changed)
        self._smaller = self._action("Smaller brush", "[", size_tip)
        self._larger = self._action("Larger brush", "]", size_tip)
        self._smaller.triggered.connect(lambda: self._step_brush(1 / _BRUSH_STEP))
        self._larger.triggered.connect(lambda: self._step_brush(_BRUSH_STEP))
        grid.addWidget(self._size_label, 1, 0)
        grid.addWidget(self._size_slider, 1, 1)
        grid.addWidget(self._size_spin, 1, 2)

        opacity_label = QLabel("Overlay")
        self._opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self._opacity_slider.setRange(0, 100)
        self._opacity_spin = QSpinBox()
        self._opacity_spin.setRange(0, 100)
        self._opacity_spin.setSuffix(" %")
        opacity_tip = _tooltip("Overlay opacity", None, "How strongly the trimap colours cover the photo.")
        for w in (opacity_label, self._opacity_slider, self._opacity_spin):
            w.setToolTip(opacity_tip)
        self._opacity_slider.valueChanged.connect(self._user_set_opacity)
        self._opacity_spin.valueChanged.connect(self._user_set_opacity)
        grid.addWidget(opacity_label, 2, 0)
        grid.addWidget(self._opacity_slider, 2, 1)
        grid.addWidget(self._opacity_spin, 2, 2)

        grid.addWidget(section_header("Trimap"), 3, 0, 1, 3)
        band_label = QLabel("Unknown band")
        self._band_slider = QSlider(Qt.Orientation.Horizontal)
        self._band_slider.setRange(BAND_MIN, BAND_MAX)
        self._band_spin = QSpinBox()
        self._band_spin.setRange(BAND_MIN, BAND_MAX)
        self._band_spin.setSuffix(" px")
        self._band_spin.setKeyboardTracking(False)
        self._band_auto = QCheckBox("Auto")
        band_tip = _tooltip(
            "Unknown band",
            None,
            "Width in photo pixels of the unknown region laid along the subject's edge when a trimap is "
            "made from a rectangle, a mask or the alpha. The trimap updates while you drag.",
        )
        for w in (band_label, self._band_slider, self._band_spin):
            w.setToolTip(band_tip)
        self._band_auto.setToolTip(
            _tooltip("Automatic band", None, "1 % of the photo's diagonal, at least 4 px. Typing or dragging a width fixes it instead.")
        )
        self._band_slider.valueChanged.connect(self._user_set_band)
        self._band_spin.valueChanged.connect(self._user_set_band)
        self._band_auto.toggled.connect(self._user_set_band_auto)
        # Says what a typed width did to Auto (it fixes the width) and how to get the automatic one back.
        self._band_note = note_label()
        self._smart = QCheckBox("Smart radius")
        self._smart.setChecked(True)
        self._smart.setToolTip(
            _tooltip(
                "Smart radius",
                None,
                "Widen the band where the edge is hair, fur or other fine structure (where the colours on either "
                "side of the outline mix) and keep it narrow along hard edges. Applies to trimaps made with the "
                "Rectangle.",
            )
        )
        self._smart.toggled.connect(self.smartRadiusChanged)
        grid.addWidget(band_label, 4, 0)
        grid.addWidget(self._band_slider, 4, 1)
        grid.addWidget(self._band_spin, 4, 2)
        band_options = compact(QHBoxLayout(), 0)
        band_options.addWidget(self._band_auto)
        band_options.addWidget(self._smart)
        band_options.addStretch(1)
        grid.addLayout(band_options, 5, 0, 1, 3)
        grid.addWidget(self._band_note, 6, 0, 1, 3)
        layout.addLayout(grid)

        buttons = compact(QGridLayout(), 0)
        self._refine_button = QPushButton("Refine with Strokes")
        self._refine_button.setToolTip(
            _tooltip(
                "Refine with strokes",
                None,
                "Run the Rectangle's GrabCut again, steered by the Foreground and Background you painted since: "
                "paint a few strokes on what it got wrong, then click here.",
            )
        )
        self._refine_button.clicked.connect(self.refineRequested)
        self._from_alpha_button = QPushButton("Trimap from alpha")
        self._from_alpha_button.setToolTip(
            _tooltip("Trimap from alpha", None, "Rebuild the trimap from the current matte: soft alpha and the "
                     "unknown band around its edge become Unknown. Needs a result.")
        )
        self._invert_action = self._action(
            "Invert", "Ctrl+Shift+I", _tooltip("Invert", "Ctrl+Shift+I", "Swap Foreground and Background; Unknown stays.")
        )
        invert_button = QPushButton("Invert")
        invert_button.setToolTip(self._invert_action.toolTip())
        self._clear_button = QPushButton("Clear…")
        self._clear_button.setToolTip(_tooltip("Clear", None, "Reset the whole trimap (asks first; can be undone)."))
        self._from_alpha_button.clicked.connect(self.trimapFromAlphaRequested)
        invert_button.clicked.connect(self._invert_action.trigger)
        self._invert_action.triggered.connect(self.invertRequested)
        self._clear_button.clicked.connect(self.clearRequested)
        for b in (self._refine_button, self._from_alpha_button, invert_button, self._clear_button):
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        buttons.addWidget(self._refine_button, 0, 0, 1, 2)
        buttons.addWidget(self._from_alpha_button, 1, 0, 1, 2)
        buttons.addWidget(invert_button, 2, 0)
        buttons.addWidget(self._clear_button, 2, 1)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self.set_brush_size(40)
        self.set_opacity(0.5)
        self.set_auto_band_width(10)
        self.set_band_width(None)
        self.set_alpha_available(False)
        self.set_refine_available(False)
        self._update_enabled()

    # -- construction helpers ----------------------------------------------------------------------
    def _action(self, text: str, shortcut: str, tooltip: str, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(tooltip)
        action.setCheckable(checkable)
        self.addAction(action)  # the shortcut works wherever focus is in this window
        return action

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setAutoRaise(False)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return button

    def shortcut_actions(self) -> list[QAction]:
        """Every action with a shortcut (tools, classes, swap, brush size, invert), for the main window's menus."""
        return [
            *self._tool_actions.values(),
            *self._class_actions.values(),
            self._swap_action,
            self._smaller,
            self._larger,
            self._invert_action,
        ]

    # -- user input → signals ------------------------------------------------------------------------
    def _user_set_tool(self, tool: str) -> None:
        if tool != self._tool:
            self._tool = tool
            self._update_enabled()
            self.toolChanged.emit(tool)

    def _user_set_class(self, value: int) -> None:
        if value != self._class:
            self._class = value
            self.classChanged.emit(value)

    def _swap_class(self) -> None:
        target = BACKGROUND if self._class == FOREGROUND else FOREGROUND
        self._class_actions[target].setChecked(True)
        self._user_set_class(target)

    def _brush_slider_moved(self, position: int) -> None:
        size = _slider_to_brush(position)
        if size != self._size_spin.value():
            # only the spin box follows: snapping the slider to the rounded size would make it jitter under the mouse
            with QSignalBlocker(self._size_spin):
                self._size_spin.setValue(size)
            self.brushSizeChanged.emit(float(size))

    def _brush_spin_changed(self, size: int) -> None:
        with QSignalBlocker(self._size_slider):
            self._size_slider.setValue(_brush_to_slider(size))
        self.brushSizeChanged.emit(float(size))

    def _step_brush(self, factor: float) -> None:
        current = self._size_spin.value()
        target = round(current * factor)
        if target == current:
            target += 1 if factor > 1 else -1
        target = min(max(target, BRUSH_MIN), BRUSH_MAX)
        if target != current:
            self._show_brush(target)
            self.brushSizeChanged.emit(float(target))

    def _user_set_opacity(self, percent: int) -> None:
        if percent == self._opacity_spin.value() == self._opacity_slider.value():
            return
        self._show_opacity(percent)
        self.opacityChanged.emit(percent / 100.0)

    def _user_set_band(self, px: int) -> None:
        if not self._band_auto.isChecked() and px == self._band_spin.value() == self._band_slider.value():
            return
        self._show_band(px, auto=False)
        self.bandWidthChanged.emit(int(px))

    def _user_set_band_auto(self, auto: bool) -> None:
        if auto:
            self._show_band(self._auto_band, auto=True)
            self.bandWidthChanged.emit(None)
        else:
            self.bandWidthChanged.emit(int(self._band_spin.value()))

    def _update_enabled(self) -> None:
        brush = self._tool in ("brush", "refine")
        for w in (self._size_label, self._size_slider, self._size_spin):
            w.setEnabled(brush)
        paints = self._tool in ("brush", "lasso", "fill")  # Refine Edge always paints Unknown
        for action in self._class_actions.values():
            action.setEnabled(paints)
        self._swap_action.setEnabled(paints)

    # -- showing values without emitting -------------------------------------------------------------
    def _show_brush(self, size: int) -> None:
        with QSignalBlocker(self._size_slider), QSignalBlocker(self._size_spin):
            self._size_spin.setValue(size)
            self._size_slider.setValue(_brush_to_slider(size))

    def _show_opacity(self, percent: int) -> None:
        with QSignalBlocker(self._opacity_slider), QSignalBlocker(self._opacity_spin):
            self._opacity_slider.setValue(percent)
            self._opacity_spin.setValue(percent)

    def _show_band(self, px: int, auto: bool) -> None:
        with QSignalBlocker(self._band_slider), QSignalBlocker(self._band_spin), QSignalBlocker(self._band_auto):
            self._band_slider.setValue(px)
            self._band_spin.setValue(px)
            self._band_auto.setChecked(auto)
        self._band_auto.setText(f"Auto ({self._auto_band} px)")
        self._band_note.setText("" if auto else f"Fixed at {px} px. Tick Auto for {self._auto_band} px, 1 % of this photo's diagonal.")
        self._band_note.setVisible(not auto)

    # -- setters (silent) and getters ----------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; expected one of {', '.join(TOOLS)}")
        self._tool = tool
        self._tool_actions[tool].setChecked(True)
        self._update_enabled()

    def tool(self) -> str:
        return self._tool

    def set_class(self, value: int) -> None:
        if value not in _CLASS_INFO:
            raise ValueError(f"trimap class must be 0, 128 or 255, got {value}")
        self._class = int(value)
        self._class_actions[int(value)].setChecked(True)

    def trimap_class(self) -> int:
        return self._class

    def set_class_colors(self, colors: dict[int, QColor]) -> None:
        """Swatches on the class buttons, e.g. the canvas's overlay tints: ``{255: …, 0: …, 128: …}``."""
        for value, color in colors.items():
            self._class_actions[value].setIcon(_swatch(QColor(color)))

    def set_brush_size(self, size: float) -> None:
        """Brush diameter in photo pixels (rounded, clamped to 1–1000)."""
        self._show_brush(min(max(round(size), BRUSH_MIN), BRUSH_MAX))

    def brush_size(self) -> float:
        return float(self._size_spin.value())

    def set_opacity(self, opacity: float) -> None:
        self._show_opacity(round(min(max(opacity, 0.0), 1.0) * 100))

    def opacity(self) -> float:
        return self._opacity_spin.value() / 100.0

    def set_band_width(self, px: int | None) -> None:
        """The band in pixels, or None for automatic (then :meth:`set_auto_band_width`'s value is shown)."""
        if px is None:
            self._show_band(self._auto_band, auto=True)
        else:
            self._show_band(min(max(int(px), BAND_MIN), BAND_MAX), auto=False)

    def set_auto_band_width(self, px: int) -> None:
        """What "Auto" means for the current photo (``trimap.default_band_width``), shown while Auto is on."""
        self._auto_band = min(max(int(px), BAND_MIN), BAND_MAX)
        auto = self._band_auto.isChecked()
        self._show_band(self._auto_band if auto else self._band_spin.value(), auto=auto)

    def band_width(self) -> int | None:
        return None if self._band_auto.isChecked() else int(self._band_spin.value())

    def set_alpha_available(self, available: bool) -> None:
        """"Trimap from alpha" needs a matte to work from."""
        self._from_alpha_button.setEnabled(available)

    def set_refine_available(self, available: bool) -> None:
        """"Refine with Strokes" needs a Rectangle trimap and strokes painted over it."""
        self._refine_button.setEnabled(available)

    def refine_available(self) -> bool:
        return self._refine_button.isEnabled()

    def band_note(self) -> str:
        return self._band_note.text() if not self._band_auto.isChecked() else ""

    def set_smart_radius(self, on: bool) -> None:
        with QSignalBlocker(self._smart):
            self._smart.setChecked(bool(on))

    def smart_radius(self) -> bool:
        return self._smart.isChecked()
