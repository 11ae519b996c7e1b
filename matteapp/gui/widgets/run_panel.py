"""Running the matting engine: preview or full resolution, auto-run, the global-attention limit, progress.

Shortcuts: Ctrl+Return runs a preview, Ctrl+Shift+Return a full-resolution run.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from matteapp.engine.progress import format_duration
from matteapp.engine.session import DEFAULT_TOKEN_CAP
from matteapp.gui.widgets.panel_layout import compact, note_label, section_header, wrapping_label

ENGINES = {
    # session engine name: (label, tooltip)
    "mematte": ("Neural model", "The loaded MEMatte / ViTMatte model (see Model & device)."),
    "closed-form": (
        "Closed-form (classical)",
        "Levin et al.'s closed-form matting: no model, a classical method that is strong on smooth "
        "backgrounds. Its time grows with the Unknown region (seconds for a preview, minutes at full "
        "resolution); Cancel stops it at once.",
    ),
}

LIMIT_MODES = ("none", "cap", "budget")
DEFAULT_CAP = DEFAULT_TOKEN_CAP  # tokens: about a 1-MP photo's worth of global attention per block
DEFAULT_BUDGET_MB = 4096.0

_STAGE_NAMES = {
    "loading": "Loading model",
    "backbone": "Transformer",
    "decoder": "Decoder",
    "retry": "Retrying",
    "closed-form": "Closed-form",
    "export": "Exporting",
    "done": "Done",
    "cancelled": "Cancelled",
    "error": "Failed",
}

NO_HINTS_REASON = (
    "Mark the subject first: drag a rectangle around it (Rectangle tool, R), or paint Foreground and an "
    "Unknown band along its edge. The matte is computed only in the Unknown region."
)


def stage_title(stage: str) -> str:
    """The progress bar's title for a :class:`~matteapp.model.predictor.ProgressEvent` stage."""
    return _STAGE_NAMES.get(stage, stage.replace("-", " ").capitalize())


class RunPanel(QWidget):
    """Run buttons, engine and limits, and the progress of the current run.

    Signals (user input only; setters are silent): ``runRequested(preview)``; ``cancelRequested()``;
    ``autoRunChanged(on)``; ``engineChanged(name)`` with a :data:`matteapp.engine.session.ENGINES` name;
    ``capChanged(tokens or None)`` and ``budgetChanged(megabytes or None)`` — at most one of the two
    is not None, as the limits are alternatives (the session lets a budget override a cap).
    """

    runRequested = Signal(bool)
    cancelRequested = Signal()
    autoRunChanged = Signal(bool)
    engineChanged = Signal(str)
    capChanged = Signal(object)
    budgetChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._busy = False
        self._hints_ok = True
        self._hints_reason = NO_HINTS_REASON
        layout = compact(QVBoxLayout(self))

        # -- engine and run
        layout.addWidget(section_header("Matte"))
        engine_row = compact(QHBoxLayout(), 0)
        engine_label = QLabel("Engine")
        self._engine = QComboBox()
        for name, (label, tip) in ENGINES.items():
            self._engine.addItem(label, name)
            self._engine.setItemData(self._engine.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self._engine.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._engine.setToolTip("Which engine computes the matte.")
        self._engine.currentIndexChanged.connect(self._engine_changed)
        engine_row.addWidget(engine_label)
        engine_row.addWidget(self._engine, 1)
        layout.addLayout(engine_row)

        runs = compact(QHBoxLayout(), 0)
        self._preview_action = self._action("Preview", "Ctrl+Return")
        self._full_action = self._action("Full resolution", "Ctrl+Shift+Return")
        self._preview_tip = (
            "<b>Preview</b> <span style='color:gray'>(Ctrl+Return)</span><br>Run on a copy whose long side is "
            "1024 px: seconds, to judge the trimap. Never exported as full resolution."
        )
        self._full_tip = (
            "<b>Full resolution</b> <span style='color:gray'>(Ctrl+Shift+Return)</span><br>Run on every pixel of the "
            "photo, for export. Large photos take a while; the routing maps appear as each block finishes."
        )
        self._preview_button = QPushButton("Preview")
        self._full_button = QPushButton("Full resolution")
        self._full_button.setDefault(True)
        for button, action in ((self._preview_button, self._preview_action), (self._full_button, self._full_action)):
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(action.trigger)
            runs.addWidget(button)
        self._preview_action.triggered.connect(lambda: self.runRequested.emit(True))
        self._full_action.triggered.connect(lambda: self.runRequested.emit(False))
        layout.addLayout(runs)
        # Why the buttons are disabled, in the panel itself: a tooltip is found only by those who hover.
        self._blocked = note_label()
        self._blocked.hide()
        layout.addWidget(self._blocked)

        self._auto_run = QCheckBox("Auto-run preview after edits")
        self._auto_run.setToolTip(
            "Start a preview by itself shortly after you stop editing the trimap; a newer edit cancels the running one."
        )
        self._auto_run.toggled.connect(self.autoRunChanged)
        layout.addWidget(self._auto_run)

        # -- global attention limit
        self._limit_header = section_header("Global attention limit")
        layout.addWidget(self._limit_header)
        limit = compact(QGridLayout(), 0)
        limit.setColumnStretch(1, 1)
        self._limit_group = QButtonGroup(self)
        self._radio_none = QRadioButton("No limit")
        self._radio_none.setToolTip("Each routed block sends every token its router picks to global attention.")
        self._radio_cap = QRadioButton("Token cap")
        self._radio_cap.setToolTip(
            "At most this many tokens per routed block attend globally (those the router is surest about); "
            "the rest use local window attention. Lower: less memory and time, possibly softer hair."
        )
        self._radio_budget = QRadioButton("Memory budget")
        self._radio_budget.setToolTip(
            "Pick the token cap and decoder tile so that the estimated peak memory of the run stays within this many MB."
        )
        self._cap = QSpinBox()
        self._cap.setRange(0, 10_000_000)
        self._cap.setSingleStep(256)
        self._cap.setGroupSeparatorShown(True)
        self._cap.setSuffix(" tokens")
        self._cap.setKeyboardTracking(False)
        self._cap.setToolTip(self._radio_cap.toolTip())
        self._budget = QDoubleSpinBox()
        self._budget.setRange(64, 1_048_576)
        self._budget.setDecimals(0)
        self._budget.setSingleStep(256)
        self._budget.setGroupSeparatorShown(True)
        self._budget.setSuffix(" MB")
        self._budget.setKeyboardTracking(False)
        self._budget.setToolTip(self._radio_budget.toolTip())
        for i, (radio, mode) in enumerate(((self._radio_none, "none"), (self._radio_cap, "cap"), (self._radio_budget, "budget"))):
            self._limit_group.addButton(radio, i)
            radio.setProperty("limit_mode", mode)
            limit.addWidget(radio, i, 0)
        limit.addWidget(self._cap, 1, 1)
        limit.addWidget(self._budget, 2, 1)
        self._cap.setValue(DEFAULT_CAP)
        self._budget.setValue(DEFAULT_BUDGET_MB)
        self._radio_none.setChecked(True)
        self._limit_group.buttonToggled.connect(self._limit_toggled)
        self._cap.valueChanged.connect(lambda: self._emit_limits())
        self._budget.valueChanged.connect(lambda: self._emit_limits())
        layout.addLayout(limit)
        self._emitted_limits = self.limits()

        # -- progress
        layout.addWidget(section_header("Progress"))
        self._stage = QLabel("Idle")
        font = self._stage.font()
        font.setBold(True)
        self._stage.setFont(font)
        self._time_left = QLabel("")
        self._time_left.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._time_left.setToolTip("Estimated from the time the steps done so far took")
        stage_row = compact(QHBoxLayout(), 0)
        stage_row.addWidget(self._stage)
        stage_row.addStretch(1)
        stage_row.addWidget(self._time_left)
        layout.addLayout(stage_row)
        # Its own line, wrapped: a failure's whole sentence must be readable, and long messages must not
        # widen the dock (the label takes the width it gets and grows downwards).
        self._message = wrapping_label()
        self._message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self._message)
        bar_row = compact(QHBoxLayout(), 0)
        self._bar = QProgressBar()
        self._bar.setRange(0, 1000)
        self._bar.setValue(0)
        self._bar.setFormat("%p %")
        self._bar.setTextVisible(True)
        self._cancel = QPushButton("Cancel")
        self._cancel.setToolTip("Stop the running job; the previous result stays.")
        self._cancel.clicked.connect(self.cancelRequested)
        bar_row.addWidget(self._bar, 1)
        bar_row.addWidget(self._cancel)
        layout.addLayout(bar_row)
        self._summary = QLabel("")
        self._summary.setWordWrap(True)
        self._summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self._summary)
        layout.addStretch(1)
        self._update_enabled()

    def _action(self, text: str, shortcut: str) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addAction(action)
        return action

    def shortcut_actions(self) -> list[QAction]:
        """The run actions (Preview, Full resolution), for the main window's menus."""
        return [self._preview_action, self._full_action]

    # -- user input --------------------------------------------------------------------------------
    def _engine_changed(self, _index: int) -> None:
        self._update_enabled()
        self.engineChanged.emit(self.engine())

    def _limit_toggled(self, _button, checked: bool) -> None:
        if checked:  # the button group toggles one off and one on: act once
            self._update_enabled()
            self._emit_limits()

    def _emit_limits(self) -> None:
        cap, budget = self.limits()
        old_cap, old_budget = self._emitted_limits
        self._emitted_limits = (cap, budget)
        if cap != old_cap:
            self.capChanged.emit(cap)
        if budget != old_budget:
            self.budgetChanged.emit(budget)

    def _update_enabled(self) -> None:
        can_run = self._hints_ok and not self._busy
        for button, action, tip in (
            (self._preview_button, self._preview_action, self._preview_tip),
            (self._full_button, self._full_action, self._full_tip),
        ):
            button.setEnabled(can_run)
            action.setEnabled(can_run)
            if not self._hints_ok:
                button.setToolTip(f"{tip}<br><br><i>{self._hints_reason}</i>")
            elif self._busy:
                button.setToolTip(f"{tip}<br><br><i>A run is in progress: cancel it first.</i>")
            else:
                button.setToolTip(tip)
        self._blocked.setText(self._hints_reason)
        self._blocked.setVisible(not self._hints_ok)
        self._cancel.setEnabled(self._busy)
        model = self.engine() == "mematte"
        mode = self.limit_mode()
        for w in (self._radio_none, self._radio_cap, self._radio_budget):
            w.setEnabled(model)
        self._cap.setEnabled(model and mode == "cap")
        self._budget.setEnabled(model and mode == "budget")

    # -- setters (silent) and getters ----------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        """While busy: Cancel enabled, run buttons disabled.  Starting resets the bar; stopping keeps the last text."""
        self._busy = bool(busy)
        if self._busy:
            self._bar.setRange(0, 1000)
            self._bar.setValue(0)
            self._stage.setText("Starting")
            self._message.setText("")
        self._time_left.setText("")
        self._update_enabled()

    def is_busy(self) -> bool:
        return self._busy

    def set_progress(self, stage: str, fraction: float | None, message: str = "") -> None:
        """Show ``stage`` (a ProgressEvent stage), ``fraction`` in [0, 1] (None or < 0: unknown, a busy bar)
        and ``message``."""
        self._stage.setText(stage_title(stage))
        self._message.setText(message)
        self._message.setToolTip(message)
        if stage in ("idle", "done", "cancelled", "error"):
            self._time_left.setText("")
        if fraction is None or fraction < 0:
            self._bar.setRange(0, 0)
        else:
            self._bar.setRange(0, 1000)
            self._bar.setValue(round(min(fraction, 1.0) * 1000))

    def set_fraction(self, fraction: float) -> None:
        """Move the bar without touching the stage and message (a timer's estimate between events)."""
        self._bar.setRange(0, 1000)
        self._bar.setValue(round(min(max(fraction, 0.0), 1.0) * 1000))

    def set_time_left(self, seconds: float | None) -> None:
        """"about 40 s left" beside the stage; None clears it (nothing measured yet, or no run)."""
        self._time_left.setText("" if seconds is None else f"about {format_duration(seconds)} left")

    def time_left_text(self) -> str:
        return self._time_left.text()

    def progress(self) -> tuple[str, float | None, str]:
        """(stage title, fraction or None while indeterminate, message) as shown."""
        fraction = None if self._bar.maximum() == 0 else self._bar.value() / 1000
        return self._stage.text(), fraction, self._message.text()

    def set_enabled_for_hints(self, ok: bool, reason: str | None = None) -> None:
        """Disable running while the trimap cannot give a matte (no Unknown region or no Foreground);
        ``reason`` (default :data:`NO_HINTS_REASON`) goes into the run buttons' tooltips."""
        self._hints_ok = bool(ok)
        self._hints_reason = reason or NO_HINTS_REASON
        self._update_enabled()

    def set_auto_run(self, on: bool) -> None:
        with QSignalBlocker(self._auto_run):
            self._auto_run.setChecked(bool(on))

    def auto_run(self) -> bool:
        return self._auto_run.isChecked()

    def set_engine(self, name: str) -> None:
        index = self._engine.findData(name)
        if index < 0:
            raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINES)}")
        with QSignalBlocker(self._engine):
            self._engine.setCurrentIndex(index)
        self._update_enabled()

    def engine(self) -> str:
        return self._engine.currentData()

    def set_model_label(self, text: str) -> None:
        """Name the loaded model in the engine list, e.g. "MEMatte-S (bundled)"."""
        self._engine.setItemText(self._engine.findData("mematte"), text)

    def limit_mode(self) -> str:
        return self._limit_group.checkedButton().property("limit_mode")

    def limits(self) -> tuple[int | None, float | None]:
        """(max_global_tokens, memory_budget_mb) as chosen; at most one is not None."""
        mode = self.limit_mode()
        return (
            self._cap.value() if mode == "cap" else None,
            float(self._budget.value()) if mode == "budget" else None,
        )

    def _set_mode(self, mode: str) -> None:
        radio = {"none": self._radio_none, "cap": self._radio_cap, "budget": self._radio_budget}[mode]
        with QSignalBlocker(self._limit_group), QSignalBlocker(radio):
            radio.setChecked(True)
        self._emitted_limits = self.limits()
        self._update_enabled()

    def set_cap(self, tokens: int | None) -> None:
        """A token cap selects the cap mode; None leaves it (to "No limit") only if the cap was selected."""
        if tokens is None:
            if self.limit_mode() == "cap":
                self._set_mode("none")
            return
        with QSignalBlocker(self._cap):
            self._cap.setValue(int(tokens))
        self._set_mode("cap")

    def set_budget(self, megabytes: float | None) -> None:
        """A budget selects the budget mode; None leaves it (to "No limit") only if the budget was selected."""
        if megabytes is None:
            if self.limit_mode() == "budget":
                self._set_mode("none")
            return
        with QSignalBlocker(self._budget):
            self._budget.setValue(float(megabytes))
        self._set_mode("budget")

    def set_summary(self, text: str) -> None:
        """A line about the last result, e.g. "Full resolution 6000×4000 · 41.2 s on cuda/bf16"."""
        self._summary.setText(text)

    def summary(self) -> str:
        return self._summary.text()
