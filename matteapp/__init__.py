"""matteapp: cut subjects out of large photos with MEMatte.

The public inference API::

    import matteapp
    model = matteapp.load_model(source=None, device="auto", precision="auto")  # None: resolve_default_model()
    result = model.predict(image, trimap, max_global_tokens=None)
    result.alpha, result.routing

Layers, bottom up (each imports only those below it; ``tests/test_layers.py`` checks):
``base`` → ``model`` (networks, checkpoints, predictor) → ``io`` and ``engine`` → ``document`` →
``training``, ``cli``, ``gui`` (the only one that imports Qt).
"""

__version__ = "0.1.0"

import sys as _sys

from matteapp.io import images as _images

# Where the README of 0.1 told readers to find it (``matteapp.imageio.MAX_IMAGE_PIXELS``): the same
# module object, so setting the limit there still takes effect.
_sys.modules.setdefault(__name__ + ".imageio", _images)

__all__ = ["Cancelled", "MattePredictor", "MatteResult", "ProgressEvent", "load_model", "resolve_default_model"]


def __getattr__(name: str):
    # The inference API is imported on first use: it brings torch, which takes seconds that
    # `matteapp --version`, `--help` and a mistyped option should not wait for.
    if name in __all__:
        from matteapp.model import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
