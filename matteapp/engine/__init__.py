"""The matting engine: what turns a photo and a trimap into a matte, around the model.

``session`` (preview / full-resolution runs, memory budget, out-of-memory recovery, engines),
``closed_form`` (the classical baseline), ``foreground`` (colour decontamination), ``trimap``
(import, masks, GrabCut), ``metrics`` and ``evaluate`` (the matting literature's scores).
It imports the model and the bottom layer (:mod:`matteapp.base`), never the document, the GUI or Qt.
"""
