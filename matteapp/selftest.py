"""``matteapp --self-test``: does this installation matte a photo?

Meant for builds (a wheel in a fresh venv, a PyInstaller bundle): it goes through the whole Qt-free
inference path, as the window's Preview and Export do: the default model file through torch, the bundled
sample photo through Pillow, an automatic trimap through OpenCV's GrabCut, a preview-size run of the
session, the cutout's colour decontamination (pymatting's numba kernels, which a frozen build can break
by leaving out their sources), and checks that the alpha looks like a matte rather than like a broken
build (NaNs, all one value, a constant unknown band).
"""

from __future__ import annotations

import sys
import time

import numpy as np

# The sample is a portrait whose subject fills the middle of the frame and reaches its bottom edge.
RECT_FRACTIONS = (0.12, 0.06, 0.76, 0.94)  # x, y, width, height of the subject's box, in parts of the frame
MIN_SOLID_FRACTION = 0.05  # at least this much of the photo near 0 and near 1
MIN_UNKNOWN_STD = 0.05  # the model's own output (the unknown band) must vary


class SelfTestError(RuntimeError):
    pass


def check_alpha(alpha: np.ndarray, trimap: np.ndarray) -> dict[str, float]:
    """Figures of ``alpha`` (float, H×W) against ``trimap`` (uint8 0/128/255, same size); raises
    :class:`SelfTestError` when they are out of the range a working model gives."""
    if alpha.shape != trimap.shape:
        raise SelfTestError(f"alpha is {alpha.shape}, the trimap {trimap.shape}")
    if not np.isfinite(alpha).all():
        raise SelfTestError(f"alpha has {int((~np.isfinite(alpha)).sum())} non-finite values")
    low, high = float(alpha.min()), float(alpha.max())
    if low < 0.0 or high > 1.0:
        raise SelfTestError(f"alpha ranges over [{low:.3f}, {high:.3f}], outside [0, 1]")
    near0, near1 = float((alpha <= 0.05).mean()), float((alpha >= 0.95).mean())
    if near0 < MIN_SOLID_FRACTION or near1 < MIN_SOLID_FRACTION:
        raise SelfTestError(f"degenerate alpha: {near0:.0%} of it near 0 and {near1:.0%} near 1")
    unknown = alpha[(trimap > 0) & (trimap < 255)]
    if unknown.size == 0:
        raise SelfTestError("the automatic trimap has no unknown band")
    if float(unknown.std()) < MIN_UNKNOWN_STD:
        raise SelfTestError(f"the unknown band is flat (mean {unknown.mean():.3f}, std {unknown.std():.3f}): the model is not working")
    return {"near0": near0, "near1": near1, "unknown_mean": float(unknown.mean()), "unknown_std": float(unknown.std())}


def run_self_test(device: str = "auto", precision: str = "auto") -> str:
    """Run the test; returns the line to print, raises :class:`SelfTestError` (or whatever broke) if it fails."""
    started = time.perf_counter()
    from matteapp.engine.foreground import estimate_foreground
    from matteapp.engine.session import PREVIEW_LONG_SIDE, MattingSession, downscale_pair
    from matteapp.engine.trimap import trimap_from_rect
    from matteapp.io.images import SAMPLE_PHOTO, load_image
    from matteapp.model.predictor import resolve_default_model

    try:
        name, path, _ = resolve_default_model()
    except FileNotFoundError as exc:
        raise SelfTestError(str(exc)) from None
    if not SAMPLE_PHOTO.is_file():
        raise SelfTestError(f"the sample photo {SAMPLE_PHOTO} is missing")
    photo = load_image(SAMPLE_PHOTO).rgb
    height, width = photo.shape[:2]
    fx, fy, fw, fh = RECT_FRACTIONS
    rect = (round(fx * width), round(fy * height), round(fw * width), round(fh * height))
    trimap = trimap_from_rect(photo, rect)
    session = MattingSession(str(path), device=device, precision=precision)
    result = session.run(photo, trimap, preview=True)
    work_photo, work_trimap = downscale_pair(photo, trimap, PREVIEW_LONG_SIDE)  # what the preview ran on
    alpha = np.asarray(result.alpha, dtype=np.float32)
    figures = check_alpha(alpha, work_trimap)
    foreground = estimate_foreground(work_photo, alpha)
    if foreground.shape != work_photo.shape or foreground.dtype != np.uint8:
        raise SelfTestError(f"the decontaminated foreground is {foreground.shape} {foreground.dtype}, expected {work_photo.shape} uint8")
    predictor = session.predictor
    h, w = result.alpha.shape
    return (
        f"self-test passed: {name} ({path.name}) on {predictor.device.type}/{predictor.precision}, "
        f"{SAMPLE_PHOTO.name} at {w}×{h}: {figures['near1']:.0%} of alpha ≥ 0.95, {figures['near0']:.0%} ≤ 0.05, "
        f"unknown band mean {figures['unknown_mean']:.2f} std {figures['unknown_std']:.2f}, cutout colours estimated; "
        f"{time.perf_counter() - started:.1f} s"
    )


def main() -> int:
    """Print one line; exit code 0 when the self-test passed, 1 otherwise."""
    try:
        line = run_self_test()
    except Exception as exc:  # noqa: BLE001 - any failure of a build is the answer, said in one line
        reason = str(exc) if isinstance(exc, SelfTestError) else f"{type(exc).__name__}: {exc}"
        print(f"self-test FAILED: {reason}", file=sys.stderr)
        return 1
    print(line)
    return 0


__all__ = ["SelfTestError", "check_alpha", "main", "run_self_test"]
