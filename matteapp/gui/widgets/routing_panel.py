"""Where MEMatte sent tokens to global attention, and what that saved.

MEMatte's routed blocks each let a router pick the tokens that attend to the whole image (global
attention); the others only see their local window.  This panel chooses how the canvas shows those
choices, keys the colours, and tabulates per routed block how many tokens went global, how long the
block took, and the memory and compute global attention over *all* tokens would have needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from matteapp.gui.widgets.panel_layout import compact, section_header
from matteapp.gui.widgets.routing_legend import RoutingLegend

DEFAULT_BLOCKS = 4  # MEMatte routes 4 of its blocks (the ones that are global in ViTMatte)

ROWS = ("tokens", "total", "share", "time", "memory_attention", "memory_full", "compute", "hover")
"""Table rows (one column per routed block), in order."""

_ROW_LABELS = {
    "tokens": ("Global tokens", "Tokens this block sent to global attention."),
    "total": ("of tokens", "All tokens of the image (16×16-pixel patches of the padded input)."),
    "share": ("Share", "Fraction of the tokens that attended globally."),
    "time": ("Block time", "Measured wall time of the whole block (router, attention, MLP)."),
    "memory_attention": (
        "Global attn. used",
        "Memory this run's global attention held in this block: queries, keys, values and output of its k "
        "routed tokens (4 × k × width values at the run's precision). The fused attention kernel keeps no "
        "k×k matrix. The whole app's peak is under the table.",
    ),
    "memory_full": (
        "N×N, all tokens",
        "What attending all n tokens would need with a full N×N score matrix (heads × n² × 4 bytes), as a plain "
        "(unfused) implementation of ViTMatte's global attention allocates. A comparison, not memory used.",
    ),
    "compute": (
        "Attn. compute",
        "Global attention's compute grows with the square of its tokens: routing k of n tokens costs (k/n)² "
        "of attending over all of them.",
    ),
    "hover": ("Under cursor", "The router's probability of global attention for the token under the mouse."),
}

PENDING = "…"
EMPTY = "—"


def format_megabytes(mb: float) -> str:
    """Short, human sizes: 0.4 KB … 12.3 MB … 3.2 GB … 1.5 TB."""
    if mb >= 1024**2:
        return f"{mb / 1024**2:.1f} TB"
    if mb >= 1024:
        return f"{mb / 1024:.1f} GB"
    if mb >= 10:
        return f"{mb:.0f} MB"
    if mb >= 0.1:
        return f"{mb:.1f} MB"
    return f"{mb * 1024:.1f} KB"


def format_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


class RoutingPanel(QWidget):
    """Routing display controls, colour legend, per-block table and hover read-out.

    ``displayChanged(mode, block, soft)``: ``mode`` "density" (share of the routed blocks that sent
    each token global; ``block`` is then 0) or "block" (``block`` = routed-block index, 0-based);
    ``soft`` shows the routers' probabilities instead of their hard choices — the arguments of
    the canvas's ``set_routing_display``.  ``gridToggled(on)``: draw the 16-px token grid.
    """

    displayChanged = Signal(str, int, bool)
    gridToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._blocks = 0
        layout = compact(QVBoxLayout(self))

        layout.addWidget(section_header("Display"))
        row = compact(QHBoxLayout(), 0)
        row.addWidget(QLabel("Show"))
        self._display = QComboBox()
        self._display.setToolTip("Which routing decisions the overlay shows.")
        self._display.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._display.currentIndexChanged.connect(self._user_display)
        row.addWidget(self._display, 1)
        layout.addLayout(row)
        options = compact(QHBoxLayout(), 0)
        self._soft = QCheckBox("Soft probabilities")
        self._soft.setToolTip("Colour by the router's probability of global attention instead of its yes/no decision.")
        self._soft.toggled.connect(self._user_display)
        self._grid = QCheckBox("Token grid")
        self._grid.setToolTip("Outline the 16×16-pixel tokens (visible once zoomed in enough).")
        self._grid.toggled.connect(self.gridToggled)
        options.addWidget(self._soft)
        options.addWidget(self._grid)
        options.addStretch(1)
        layout.addLayout(options)
        self._legend = RoutingLegend()
        layout.addWidget(self._legend)

        layout.addWidget(section_header("Per routed block"))
        self._table = QTableWidget(len(ROWS), 0)
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._table.setWordWrap(False)
        self._table.setAlternatingRowColors(True)
        self._table.setShowGrid(False)
        vertical = self._table.verticalHeader()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 6)
        for i, key in enumerate(ROWS):
            label, tip = _ROW_LABELS[key]
            item = QTableWidgetItem(label)
            item.setToolTip(tip)
            self._table.setVerticalHeaderItem(i, item)
        # sized to the numbers (a narrow dock scrolls sideways rather than eliding them)
        self._table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._table.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._table.setMinimumWidth(160)
        layout.addWidget(self._table)
        # Word-wrapped labels report a one-line minimum height, so a crowded dock would squeeze them under
        # the table: reserve the lines they need.
        line = self.fontMetrics().lineSpacing()
        self._summary = QLabel("")
        self._summary.setWordWrap(True)
        self._summary.setMinimumHeight(3 * line)
        self._summary.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self._summary)
        # What the process really used, beside the table's per-block figures (which are not allocations
        # of the app as a whole).
        self._peak = QLabel("")
        self._peak.setWordWrap(True)
        self._peak.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._peak.setToolTip("Resident memory of the whole matteapp process (photo, model, decoder, display) at its highest.")
        layout.addWidget(self._peak)
        self._hover = QLabel("")
        self._hover.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._hover.setMinimumHeight(line)
        layout.addWidget(self._hover)
        layout.addStretch(1)

        self.set_num_blocks(DEFAULT_BLOCKS)
        self._update_legend()

    # -- structure ---------------------------------------------------------------------------------
    def set_num_blocks(self, count: int) -> None:
        """Columns and display choices for ``count`` routed blocks (clears the table)."""
        count = int(count)
        if count == self._blocks:
            self.clear()
            return
        mode, block, soft = self.display()
        self._blocks = count
        self._table.setColumnCount(count)
        self._table.setHorizontalHeaderLabels([f"Block {i + 1}" for i in range(count)])
        with QSignalBlocker(self._display):
            self._display.clear()
            self._display.addItem("Density (all blocks)", ("density", 0))
            for i in range(count):
                self._display.addItem(f"Block {i + 1}", ("block", i))
        self._select_display(mode, min(block, max(count - 1, 0)))
        rows_h = len(ROWS) * self._table.verticalHeader().defaultSectionSize()
        scroll_h = self._table.horizontalScrollBar().sizeHint().height()
        # room for a horizontal scroll bar, so that it never hides the last row
        self._table.setFixedHeight(self._table.horizontalHeader().sizeHint().height() + rows_h + scroll_h + 2 * self._table.frameWidth())
        self.clear()

    def num_blocks(self) -> int:
        return self._blocks

    def clear(self) -> None:
        """Empty every cell (a new photo, or results reset)."""
        for column in range(self._blocks):
            for row in range(len(ROWS)):
                self._set_cell(row, column, EMPTY)
        self._summary.setText("")
        self._peak.setText("")
        self._hover.setText("")

    # -- display choice ----------------------------------------------------------------------------
    def _select_display(self, mode: str, block: int) -> None:
        index = 0 if mode == "density" else 1 + block
        with QSignalBlocker(self._display):
            self._display.setCurrentIndex(min(index, self._display.count() - 1))

    def _user_display(self, *_args) -> None:
        self._update_legend()
        self.displayChanged.emit(*self.display())

    def display(self) -> tuple[str, int, bool]:
        data = self._display.currentData() if self._display.count() else ("density", 0)
        return data[0], data[1], self._soft.isChecked()

    def set_display(self, mode: str, block: int = 0, soft: bool = False) -> None:
        if mode not in ("density", "block"):
            raise ValueError(f"routing display mode must be 'density' or 'block', got {mode!r}")
        if mode == "block" and not 0 <= block < self._blocks:
            raise ValueError(f"block {block} is out of range: there are {self._blocks} routed blocks")
        self._select_display(mode, block)
        with QSignalBlocker(self._soft):
            self._soft.setChecked(bool(soft))
        self._update_legend()

    def set_soft_available(self, available: bool) -> None:
        """Soft probabilities exist only for runs that kept them; without, the hard maps are shown."""
        self._soft.setEnabled(available)
        if not available and self._soft.isChecked():
            self._soft.setChecked(False)  # emits: the canvas must switch back too

    def set_grid(self, on: bool) -> None:
        with QSignalBlocker(self._grid):
            self._grid.setChecked(bool(on))

    def grid(self) -> bool:
        return self._grid.isChecked()

    def set_colormap(self, lut: np.ndarray) -> None:
        """(256, 3) uint8 RGB: the canvas overlay's colour map, so that the legend matches it."""
        self._legend.set_colormap(lut)

    def legend(self) -> RoutingLegend:
        return self._legend

    def _update_legend(self) -> None:
        mode, block, soft = self.display()
        if mode == "density" and not soft:
            self._legend.set_scale("Share of routed blocks that made the token global", "none", f"all {self._blocks}", False)
        elif mode == "density":
            self._legend.set_scale("Mean router probability of global attention", "0", "1", False)
        elif soft:
            self._legend.set_scale(f"Block {block + 1}: router probability of global attention", "0", "1", False)
        else:
            self._legend.set_scale(f"Block {block + 1}", "local window only", "global attention", True)

    # -- table -------------------------------------------------------------------------------------
    def _set_cell(self, row: int, column: int, text: str, tooltip: str | None = None) -> None:
        item = self._table.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._table.setItem(row, column, item)
        item.setText(text)
        item.setToolTip(tooltip or "")

    def cell_text(self, row: str, block: int) -> str:
        """The text shown for ``row`` (one of :data:`ROWS`) of routed block ``block``."""
        item = self._table.item(ROWS.index(row), block)
        return item.text() if item is not None else ""

    def _check_block(self, index: int) -> None:
        if not 0 <= index < self._blocks:
            raise ValueError(f"block {index} is out of range: there are {self._blocks} routed blocks")

    def _set_counts(self, index: int, routed: int, total: int) -> None:
        self._set_cell(ROWS.index("tokens"), index, f"{routed:,}")
        self._set_cell(ROWS.index("total"), index, f"{total:,}")
        self._set_cell(ROWS.index("share"), index, f"{routed / total:.1%}" if total else EMPTY)

    def set_block_live(self, index: int, keep_map: np.ndarray) -> None:
        """Counts of routed block ``index`` from its (h, w) bool keep map as soon as the router decided;
        its time and savings show as pending until :meth:`set_savings`."""
        self._check_block(index)
        keep = np.asarray(keep_map, dtype=bool)
        self._set_counts(index, int(np.count_nonzero(keep)), keep.size)
        for key in ("time", "memory_attention", "memory_full", "compute"):
            self._set_cell(ROWS.index(key), index, PENDING)

    def set_savings(self, rows: Sequence[dict]) -> None:
        """Fill the table from :func:`matteapp.engine.session.global_attention_savings` (one dict per routed
        block: block, routed, total, fraction, flops_ratio, scores_mb_full, attention_mb, seconds)."""
        if len(rows) != self._blocks:
            self.set_num_blocks(len(rows))
        used_mb = full_mb = 0.0
        flops_routed = flops_full = 0.0
        for i, r in enumerate(rows):
            self._set_counts(i, int(r["routed"]), int(r["total"]))
            self._table.horizontalHeaderItem(i).setToolTip(f"Routed block {i + 1}: layer {int(r['block']) + 1} of the backbone")
            self._set_cell(ROWS.index("time"), i, format_seconds(float(r["seconds"])))
            used = float(r.get("attention_mb", 0.0))
            known = bool(r.get("attention_mb") is not None and (used or r.get("routed") == 0))
            self._set_cell(ROWS.index("memory_attention"), i, format_megabytes(used) if known else EMPTY)
            self._set_cell(ROWS.index("memory_full"), i, format_megabytes(float(r["scores_mb_full"])))
            ratio = float(r["flops_ratio"])
            faster = f"{1 / ratio:,.0f}× less than all tokens" if ratio > 0 else "no global attention at all"
            self._set_cell(ROWS.index("compute"), i, f"{ratio:.1%}", f"{ratio:.2%} of global attention over all tokens ({faster})")
            used_mb = max(used_mb, used)  # blocks run one after another: their peaks do not add up
            full_mb = max(full_mb, float(r["scores_mb_full"]))
            flops_routed += float(r["routed"]) ** 2
            flops_full += float(r["total"]) ** 2
        if rows and flops_full:
            used = f" and at most {format_megabytes(used_mb)} of memory" if used_mb else ""
            self._summary.setText(
                f"All {len(rows)} blocks: global attention took {flops_routed / flops_full:.1%} of the compute of "
                f"attending all tokens{used}; an N×N score matrix over all tokens would need {format_megabytes(full_mb)}."
            )
        else:
            self._summary.setText("")

    def summary(self) -> str:
        return self._summary.text()

    def set_peak_memory(self, nbytes: int | None, scope: str = "run", device_bytes: int | None = None) -> None:
        """The memory the app itself used at its peak (resident memory of the process; ``scope`` "run": during
        the last run, "process": since it started) and, on a GPU, the accelerator's peak; None clears."""
        parts = []
        if nbytes:
            when = "during the last run" if scope == "run" else "since it started"
            parts.append(f"matteapp's peak memory {when}: {format_megabytes(nbytes / 2**20)}")
        if device_bytes:
            parts.append(f"GPU peak: {format_megabytes(device_bytes / 2**20)}")
        self._peak.setText("; ".join(parts) + ("." if parts else ""))

    def peak_text(self) -> str:
        return self._peak.text()

    # -- hover -------------------------------------------------------------------------------------
    def set_hover(
        self,
        row: int | None,
        col: int | None,
        scores: Sequence[float] | None,
        routed: Sequence[bool] | None,
    ) -> None:
        """Token (``row``, ``col``) under the mouse: ``scores`` its router probability per routed block
        (None when the run kept none), ``routed`` whether each block sent it global (may be shorter than
        the block count while a run is live).  ``row`` None or negative clears."""
        hover = ROWS.index("hover")
        if row is None or col is None or row < 0 or col < 0:
            for i in range(self._blocks):
                self._set_cell(hover, i, EMPTY)
            self._hover.setText("")
            return
        routed = list(routed or [])
        for i in range(self._blocks):
            score = None if scores is None or i >= len(scores) else float(scores[i])
            decided = i < len(routed)
            if not decided and score is None:
                text = EMPTY
            elif score is None:
                text = "global" if routed[i] else "local"
            else:
                text = f"{score:.2f}" + ((" ●" if routed[i] else " ○") if decided else "")
            self._set_cell(hover, i, text)
        count = sum(bool(r) for r in routed)
        self._hover.setText(f"Token ({row}, {col}): global in {count} of {len(routed)} block{'s' if len(routed) != 1 else ''}")
        self._hover.setToolTip(f"Row {row}, column {col} of the token grid; ● global attention, ○ local window only")

    def hover_text(self) -> str:
        return self._hover.text()
