"""The matting engine: what turns a photo and a trimap into a matte, around the model.

``session`` (preview / full-resolution runs, memory budget, out-of-memory recovery, engines),
``progress`` (time estimates between a run's events), ``closed_form`` (the classical baseline),
``foreground`` (colour decontamination), ``trimap`` (import, masks, GrabCut) and ``smart_trimap`` (a band
that widens over hair), ``local`` (re-matting a region after an edit), ``metrics`` and ``evaluate`` (the
matting literature's scores).
It imports the model and the bottom layer (:mod:`matteapp.base`), never the document, the GUI or Qt.
"""
