"""QUndoCommand wrappers around the document's own undo history.

:class:`~matteapp.document.state.MatteDocument` already records every trimap edit sparsely and knows how to
undo and redo it; the QUndoStack only gives the window its Undo/Redo actions, menu texts and clean
state.  So a command holds no pixels: it names one :class:`~matteapp.document.state.TrimapEdit` and steps the
document's history when the stack steps.  The edit is applied before the command is pushed (a stroke
paints while the mouse moves), so the command's first ``redo()``, which ``QUndoStack.push`` calls,
does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from matteapp.document.state import MatteDocument, TrimapEdit


class DocumentEditCommand(QUndoCommand):
    """One entry of the document's edit history, already applied when pushed.

    The document may have dropped the edit meanwhile (its history keeps a memory limit and drops the
    oldest edits): the command then finds itself out of step with the history, does nothing and marks
    itself obsolete, and the stack deletes it.

    ``on_step(edit, undone)``, if given, is called after each undo (``undone`` True) and redo, for state
    the window keeps beside the trimap (what an automatic trimap was made from, hand-painted scribbles).
    """

    def __init__(self, doc: MatteDocument, edit: TrimapEdit, on_step: Callable[[TrimapEdit, bool], None] | None = None):
        super().__init__(edit.label)
        self.doc = doc
        self.edit = edit
        self.on_step = on_step
        self._pushed = False

    def redo(self) -> None:
        if not self._pushed:
            self._pushed = True  # QUndoStack.push calls redo(); the edit is already in the trimap
            return
        if not self.doc.history.can_redo:
            self.setObsolete(True)
            return
        self.doc.redo()
        if self.on_step is not None:
            self.on_step(self.edit, False)

    def undo(self) -> None:
        if self.doc.history.top is not self.edit:
            self.setObsolete(True)
            return
        self.doc.undo()
        if self.on_step is not None:
            self.on_step(self.edit, True)


def push_edit(
    stack: QUndoStack,
    doc: MatteDocument,
    edit: TrimapEdit | None,
    merged_into: TrimapEdit | None = None,
    on_step: Callable[[TrimapEdit, bool], None] | None = None,
) -> bool:
    """Push a command for ``edit`` (the result of ``doc.apply``) unless there is nothing new to record:
    ``edit`` None (nothing changed) or ``merged_into`` itself (the stroke's open edit grew in place).
    Returns whether a command was pushed."""
    if edit is None or edit is merged_into:
        return False
    stack.push(DocumentEditCommand(doc, edit, on_step))
    return True


__all__ = ["DocumentEditCommand", "push_edit"]
