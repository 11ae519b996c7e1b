"""Matting a folder of photos: one per-photo pipeline, a resumable manifest, and an optional Ray pool.

:mod:`matteapp.batch.pipeline` holds the function that mattes and writes one photo; the local loop of
``matteapp batch`` and every cluster worker call it, so both write the same bytes.
:mod:`matteapp.batch.manifest` records each attempt in ``OUT/manifest.jsonl`` so that a rerun skips
what is done.  :mod:`matteapp.batch.cluster` spreads the photos over Ray actors; it is the only module
that imports Ray, and nothing imports it unless ``--cluster`` is given (Ray is an optional extra).
"""
