"""matteapp: cut subjects out of large photos with MEMatte.

The public inference API::

    import matteapp
    model = matteapp.load_model(source=None, device="auto", precision="auto")
    result = model.predict(image, trimap, max_global_tokens=None)
    result.alpha, result.routing
"""

from .predictor import Cancelled, MattePredictor, MatteResult, ProgressEvent, load_model

__all__ = ["Cancelled", "MattePredictor", "MatteResult", "ProgressEvent", "load_model"]
__version__ = "0.1.0"
