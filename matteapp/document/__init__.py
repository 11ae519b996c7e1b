"""The document layer (Qt-free): what a user edits and saves.

``state`` (:class:`MatteDocument`: photo, trimap, results, settings, undo history), ``paint`` (trimap
operations that return bounding-rectangle patches), ``project`` (``.matte`` files, autosave,
recovery) and ``export_plan`` (what an export writes).  The GUI presents these; the engine never
imports them.
"""

from matteapp.document.state import DEFAULT_SETTINGS, EditHistory, MatteDocument, TrimapEdit

__all__ = ["DEFAULT_SETTINGS", "EditHistory", "MatteDocument", "TrimapEdit"]
