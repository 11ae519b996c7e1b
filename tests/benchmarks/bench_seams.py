"""Where do blocky rectangles in wide unknown areas come from: the decoder's tiles or the backbone's windows?

    python tests/benchmarks/bench_seams.py [--model PATH] [--photo GT01] [--scale 3] [--dilate 100]

Upscales a dev photo (a large photo's pixel count on a small machine), dilates its trimap's unknown
region generously (a designer painting "unknown" over hair), and mattes it twice: with the default
512-px decoder tiles and with one tile covering the whole photo.  Prints how far the two alphas
differ (tiling's share of any seam), then the alpha's mean horizontal/vertical step across the
columns/rows that lie on the backbone's 224-px attention-window grid versus all other
columns/rows inside the unknown region (a ratio well above 1 means window-shaped blocks).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "alphamatting-dev"


def grid_step_ratio(alpha: np.ndarray, unknown: np.ndarray, period: int, offset: int = 0) -> tuple[float, float]:
    """Mean |Δα| across grid lines (x ≡ offset mod period) over that across other lines, columns and rows."""
    out = []
    for a, u in ((alpha, unknown), (alpha.T, unknown.T)):
        step = np.abs(np.diff(a, axis=1))
        mask = u[:, 1:] & u[:, :-1]
        cols = np.arange(1, a.shape[1])
        on = (cols - offset) % period == 0
        on_grid = step[:, on][mask[:, on]].mean()
        off_grid = step[:, ~on][mask[:, ~on]].mean()
        out.append(float(on_grid / max(off_grid, 1e-9)))
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    ap.add_argument("--photo", default="GT01")
    ap.add_argument("--scale", type=float, default=3.0)
    ap.add_argument("--dilate", type=int, default=100, help="px at the photo's own size")
    args = ap.parse_args()

    import matteapp
    from matteapp.engine.trimap import load_trimap
    from matteapp.io.images import load_image

    photo = load_image(DEV / "image" / f"{args.photo}.png")
    trimap = load_trimap(DEV / "trimap1" / f"{args.photo}.png", expected_size=photo.size)
    if args.dilate:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * args.dilate + 1,) * 2)
        trimap = trimap.copy()
        trimap[cv2.dilate((trimap == 128).astype(np.uint8), k) == 1] = 128
    h, w = trimap.shape
    size = (round(w * args.scale), round(h * args.scale))
    image = cv2.resize(photo.rgb, size, interpolation=cv2.INTER_CUBIC)
    trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
    model = matteapp.load_model(args.model, device="cpu")
    tiled = model.predict(image, trimap).alpha
    whole = model.predict(image, trimap, decoder_tile=max(size) + 32 - max(size) % 32).alpha
    unknown = trimap == 128
    print(f"{args.photo} ×{args.scale} ({size[0]}×{size[1]}), unknown dilated {args.dilate} px: {unknown.mean():.0%} unknown")
    print(f"512-px decoder tiles vs one tile: max |Δα| {np.abs(tiled - whole).max():.2e}, mean {np.abs(tiled - whole)[unknown].mean():.2e}")
    for name, period in (("attention windows (224 px)", 224), ("decoder tiles (512 px)", 512), ("control (160 px)", 160)):
        cx, cy = grid_step_ratio(tiled, unknown, period)
        print(f"step across {name}: {cx:.2f}× (columns) / {cy:.2f}× (rows) the step elsewhere")


if __name__ == "__main__":
    main()
