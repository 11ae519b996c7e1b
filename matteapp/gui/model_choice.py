"""Which model the application runs and why, in the few words a status bar has room for.

The rule itself is the core's (:func:`matteapp.model.predictor.resolve_default_model`: a pin, else the
best installed official model, else the bundled one); this module only names its outcome for the
window's labels, and estimates a download's size where the catalog does not publish one.
"""

from __future__ import annotations

from pathlib import Path

from matteapp.model.catalog import Catalog, CatalogEntry, DefaultModel, ModelStatus
from matteapp.model.predictor import resolve_default_model

NO_MODEL = "No model is installed: Model ▸ Get Models… downloads one, or Model ▸ Model & Device… opens a checkpoint file."


def default_model() -> tuple[DefaultModel | None, str | None]:
    """(the default model, None), or (None, why there is none).

    A ``MATTEAPP_MODEL`` pin that cannot be honoured is reported rather than raised: the window
    starts anyway and says so.
    """
    try:
        return resolve_default_model(), None
    except FileNotFoundError as exc:
        text = str(exc)
        # the core's text for "nothing at all" names command-line steps; the window has menus for them
        return None, NO_MODEL if "no bundled model found" in text else text


def short_reason(choice: DefaultModel) -> str:
    """"pinned", "bundled" or "best installed": the parenthesis after the model's name."""
    if choice.reason.startswith("pinned by"):
        return "pinned"
    if choice.name == "bundled":
        return "bundled"
    return "best installed"


def display_name(choice: DefaultModel) -> str:
    """"mematte-s-realworld (best installed)", "mematte-d192 (bundled)": the bundled model by its file's name."""
    name = choice.path.stem if choice.name == "bundled" else choice.name
    return f"{name} ({short_reason(choice)})"


def describe_default() -> str:
    """What the worker says it is loading when it is asked for the default model."""
    choice, _ = default_model()
    if choice is None:
        return "the default model"
    if choice.name == "bundled":
        return f"the bundled model ({choice.path.name})"
    return display_name(choice)


def origin_of(source: str | None) -> tuple[str, str] | None:
    """(the parenthesis after the model's name, the whole reason) for a model loaded from ``source``
    (None: the default model); None when the label already says enough (a preset's "random weights")."""
    if source is None:
        choice, _ = default_model()
        return (short_reason(choice), choice.reason) if choice is not None else None
    from matteapp.model import preset_names

    if source in preset_names() and not Path(source).exists():
        return None
    return "chosen", "chosen in Model ▸ Model & Device… or with --model"


def size_text(status: ModelStatus, catalog: Catalog) -> str:
    """The file's size, the catalog's, or an estimate from a model of the same shape (marked ≈)."""
    size = status.size_bytes
    if size:
        return _megabytes(size, approximate=not status.installed and not _exact_size(status.entry))
    twin = estimated_size(status.entry, catalog)
    return _megabytes(twin, approximate=True) if twin else "size not published"


def estimated_size(entry: CatalogEntry, catalog: Catalog) -> int | None:
    """Bytes of ``entry``'s download: published, else those of another entry with the same backbone.

    The official MEMatte files carry no published size; the ViTMatte entries of the same width do, and
    MEMatte's routers add well under 1 % to them.
    """
    if entry.expected_size:
        return entry.expected_size
    a = entry.architecture
    for other in catalog.entries.values():
        b = other.architecture
        if other is not entry and (b.embed_dim, b.depth, b.num_heads) == (a.embed_dim, a.depth, a.num_heads) and other.expected_size:
            return other.expected_size
    return None


def _exact_size(entry: CatalogEntry) -> bool:
    return bool(entry.sources) and all(s.size is not None for s in entry.sources)


def _megabytes(size: int, approximate: bool) -> str:
    text = f"{size / 1e6:,.0f} MB" if size >= 10e6 else f"{size / 1e6:,.1f} MB"
    return f"≈ {text}" if approximate else text


__all__ = ["NO_MODEL", "default_model", "describe_default", "display_name", "estimated_size", "origin_of", "short_reason", "size_text"]
