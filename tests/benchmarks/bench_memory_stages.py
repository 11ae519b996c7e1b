"""Where in a run the process's peak memory is reached: the peak after each backbone block and at the end.

    python tests/benchmarks/bench_memory_stages.py mematte-s@0.25 8.3
    python tests/benchmarks/bench_memory_stages.py vitmatte-s 8.3

The scene is the speed suite's (``bench_suite.py``; ``model@0.25`` caps each routed block at 25 % of the
tokens).  After a warm-up on a crop, prints the growth of the peak RSS (MB) as each block's progress event
arrives and at the end, so that two models can be compared block by block: what both hold (the input, the
first window block) against what only one allocates.  CPU only (peak RSS); run each model in its own process.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_suite import _model, _scene  # noqa: E402


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    name, mp = sys.argv[1], float(sys.argv[2])
    model, cap = _model(name, "cpu", "auto")
    image, trimap = _scene(mp)
    model.predict(image[:512, :512].copy(), trimap[:512, :512].copy())

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    base = rss()
    marks: list[tuple[str, str, float]] = []
    tokens = (trimap.shape[0] // 16 + 2) * (trimap.shape[1] // 16 + 2)
    model.predict(image, trimap, max_global_tokens=int(tokens * cap) if cap else None,
                  progress=lambda e: marks.append((e.stage, e.message.split(":")[0], rss() - base)))
    print(f"{model.describe()}, {name}, {mp:g} MP: growth of the peak RSS (MB) after each block")
    for stage, message, mb in marks:
        if stage != "decoder":
            print(f"  {message:24s} +{mb:.0f}")


if __name__ == "__main__":
    main()
