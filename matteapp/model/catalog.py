"""The catalog of official models (data in ``matteapp/resources/models/catalog.json``) and the per-user files
around it: the models folder, the settings file that can pin a model, and the state file that
remembers licence confirmations and the SHA-256 of each verified download.

Nothing here touches the network (downloads live in :mod:`matteapp.model.download`), so the
predictor can ask "which models are installed?" cheaply.

Locations (each overridable for tests and portable setups):

* models folder: ``MATTEAPP_MODELS_DIR``, else ``platformdirs.user_data_dir("matteapp")/models``;
* settings and state: the matteapp config folder (``MATTEAPP_CONFIG_DIR``, else the same folder as
  the recently-used checkpoint list), files ``settings.json`` and ``models-state.json``;
* catalog: ``MATTEAPP_MODEL_CATALOG`` (a JSON file that replaces the built-in one).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from matteapp.base import real_path, resource, write_atomic
from matteapp.io.recent import config_dir

BUILTIN_CATALOG = real_path(resource("models", "catalog.json"))
CATALOG_FORMAT = 1
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
# Suffixes an installed model may carry, in the order a lookup prefers them (safetensors cannot
# carry code; the others are read with the weights-only unpickler).
MODEL_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")
KINDS = ("mematte", "vitmatte")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class CatalogError(ValueError):
    """The catalog file is missing or malformed, or names a model that it does not have."""


# ----------------------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Architecture:
    kind: str  # "mematte" (routed) or "vitmatte"
    embed_dim: int
    depth: int
    num_heads: int
    routed: bool

    def describe(self) -> str:
        size = {384: "ViT-S", 768: "ViT-B"}.get(self.embed_dim, f"D={self.embed_dim}")
        title = "MEMatte" if self.kind == "mematte" else "ViTMatte"
        routing = "routed" if self.routed else "global attention"
        return f"{title} {size} (D={self.embed_dim}, {self.num_heads} heads, {self.depth} blocks, {routing})"


@dataclass(frozen=True)
class Source:
    type: str  # "huggingface" or "url"
    url: str | None = None  # type "url": a plain link or a Google Drive sharing link
    repo: str | None = None  # type "huggingface"
    filename: str | None = None  # the file's name (Hugging Face: its path in the repo)
    revision: str = "main"
    size: int | None = None  # exact bytes, when known
    sha256: str | None = None

    @property
    def key(self) -> str:
        """Identifies the source in the state file and in partial-download names."""
        if self.type == "huggingface":
            return f"hf:{self.repo}/{self.filename}@{self.revision}"
        return f"url:{self.url}"

    @property
    def suffix(self) -> str:
        """Suffix of the installed file.  Drive links without a file name carry official ``.pth`` files."""
        name = self.filename or ""
        suffix = Path(name).suffix.lower()
        return suffix if suffix in MODEL_SUFFIXES else ".pth"

    def describe(self, hf_endpoint: str = DEFAULT_HF_ENDPOINT) -> str:
        if self.type == "huggingface":
            return f"{hf_endpoint.rstrip('/')}/{self.repo}/resolve/{self.revision}/{self.filename}"
        return str(self.url)


@dataclass(frozen=True)
class Dataset:
    id: str
    title: str
    licence: str
    research_only: bool


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    architecture: Architecture
    sources: tuple[Source, ...]
    licence: dict[str, str]  # "code", "weights"
    training_data: tuple[Dataset, ...]
    scores: dict[str, dict[str, float | None]]
    approx_size_mb: float | None = None
    homepage: str | None = None
    paper: str | None = None

    @property
    def research_only(self) -> bool:
        return any(d.research_only for d in self.training_data)

    @property
    def expected_size(self) -> int | None:
        """Bytes to reserve before downloading: an exact size if every source has one, else the estimate."""
        sizes = [s.size for s in self.sources]
        if sizes and all(s is not None for s in sizes):
            return max(sizes)
        return int(self.approx_size_mb * 1e6) if self.approx_size_mb else None

    def licence_summary(self) -> str:
        data = "; ".join(f"{d.title}{' — research / non-commercial only' if d.research_only else ''}" for d in self.training_data)
        return f"weights {self.licence.get('weights', 'unknown')}; code {self.licence.get('code', 'unknown')}; training data {data or 'unknown'}"

    def scores_summary(self) -> list[str]:
        lines = []
        for benchmark, values in self.scores.items():
            parts = []
            for metric in ("SAD", "MSE", "Grad", "Conn"):
                v = values.get(metric)
                if v is None:
                    continue
                # MSE is stored as the fraction; papers print it ×1e3
                parts.append(f"MSE×1e3 {v * 1e3:g}" if metric == "MSE" else f"{metric} {v:.2f}")
            if parts:
                lines.append(f"{benchmark}: {'  '.join(parts)}")
        return lines


@dataclass(frozen=True)
class Catalog:
    path: Path
    entries: dict[str, CatalogEntry]
    default_order: tuple[str, ...]
    hf_endpoint: str | None = None
    datasets: dict[str, Dataset] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def get(self, name: str) -> CatalogEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise CatalogError(f"no model named {name!r} in the catalog ({self.path}); known: {', '.join(self.entries)}") from None

    def names(self) -> list[str]:
        return list(self.entries)


# -------------------------------------------------------------------------------------------- reading


def catalog_path() -> Path:
    override = os.environ.get("MATTEAPP_MODEL_CATALOG")
    return Path(override).expanduser() if override else BUILTIN_CATALOG


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """Read and check a catalog file (default: ``MATTEAPP_MODEL_CATALOG`` or the built-in one)."""
    path = Path(path) if path is not None else catalog_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = " (named by MATTEAPP_MODEL_CATALOG)" if os.environ.get("MATTEAPP_MODEL_CATALOG") else ""
        raise CatalogError(f"model catalog {path}{hint} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read the model catalog {path}: {exc}") from None
    except ValueError as exc:
        raise CatalogError(f"model catalog {path} is not valid JSON: {exc}") from None
    try:
        return _parse(raw, path)
    except CatalogError as exc:
        raise CatalogError(f"model catalog {path}: {exc}") from None


def _expect(value: Any, kind: type | tuple[type, ...], where: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    # bool is an int subclass: a size of `true` is a typo, not 1
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise CatalogError(f"{where} must be {_type_name(kind)}, not {value!r}")
    if not isinstance(value, kind):
        raise CatalogError(f"{where} must be {_type_name(kind)}{' or null' if optional else ''}, not {value!r}")
    return value


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false", dict: "an object", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _parse(raw: Any, path: Path) -> Catalog:
    _expect(raw, dict, "the top level")
    fmt = raw.get("format", CATALOG_FORMAT)
    if fmt != CATALOG_FORMAT:
        raise CatalogError(f"format {fmt!r} is not understood by this matteapp (expected {CATALOG_FORMAT})")
    datasets = {}
    for key, d in _expect(raw.get("datasets", {}), dict, "'datasets'").items():
        where = f"dataset {key!r}"
        _expect(d, dict, where)
        datasets[key] = Dataset(
            id=key,
            title=_expect(d.get("title", key), str, f"{where}: 'title'"),
            licence=_expect(d.get("licence", ""), str, f"{where}: 'licence'"),
            research_only=_expect(d.get("research_only", False), bool, f"{where}: 'research_only'"),
        )
    models = _expect(raw.get("models"), dict, "'models'")
    if not models:
        raise CatalogError("'models' is empty")
    entries = {name: _parse_entry(name, m, datasets) for name, m in models.items()}
    order = tuple(_expect(raw.get("default_order", []), list, "'default_order'"))
    unknown = [n for n in order if n not in entries]
    if unknown:
        raise CatalogError(f"'default_order' names models it does not define: {', '.join(map(str, unknown))}")
    endpoint = _expect(raw.get("hf_endpoint"), str, "'hf_endpoint'", optional=True)
    return Catalog(path=path, entries=entries, default_order=order, hf_endpoint=endpoint or None, datasets=datasets)


def _parse_entry(name: str, m: Any, datasets: dict[str, Dataset]) -> CatalogEntry:
    where = f"model {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise CatalogError(f"{where}: names are lower-case letters, digits, '.', '_' and '-' (they become file names)")
    _expect(m, dict, where)
    a = _expect(m.get("architecture"), dict, f"{where}: 'architecture'")
    kind = _expect(a.get("kind"), str, f"{where}: architecture 'kind'").lower()
    if kind not in KINDS:
        raise CatalogError(f"{where}: architecture 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    routed = _expect(a.get("routed", kind == "mematte"), bool, f"{where}: architecture 'routed'")
    if routed != (kind == "mematte"):
        raise CatalogError(f"{where}: a {kind} model is {'never' if routed else 'always'} routed")
    arch = Architecture(
        kind=kind,
        embed_dim=_expect(a.get("embed_dim"), int, f"{where}: architecture 'embed_dim'"),
        depth=_expect(a.get("depth", 12), int, f"{where}: architecture 'depth'"),
        num_heads=_expect(a.get("num_heads"), int, f"{where}: architecture 'num_heads'"),
        routed=routed,
    )
    sources = tuple(_parse_source(f"{where} source {i + 1}", s) for i, s in enumerate(_expect(m.get("sources"), list, f"{where}: 'sources'")))
    if not sources:
        raise CatalogError(f"{where}: 'sources' is empty")
    data_ids = _expect(m.get("training_data", []), list, f"{where}: 'training_data'")
    missing = [d for d in data_ids if d not in datasets]
    if missing:
        raise CatalogError(f"{where}: 'training_data' names datasets not in 'datasets': {', '.join(map(str, missing))}")
    scores = {}
    for bench, values in _expect(m.get("scores", {}), dict, f"{where}: 'scores'").items():
        _expect(values, dict, f"{where}: scores of {bench!r}")
        scores[bench] = {k: _expect(v, (int, float), f"{where}: score {bench}/{k}", optional=True) for k, v in values.items()}
    licence = _expect(m.get("licence", {}), dict, f"{where}: 'licence'")
    return CatalogEntry(
        name=name,
        description=_expect(m.get("description", ""), str, f"{where}: 'description'"),
        architecture=arch,
        sources=sources,
        licence={k: _expect(v, str, f"{where}: licence {k!r}") for k, v in licence.items()},
        training_data=tuple(datasets[d] for d in data_ids),
        scores=scores,
        approx_size_mb=_expect(m.get("approx_size_mb"), (int, float), f"{where}: 'approx_size_mb'", optional=True),
        homepage=_expect(m.get("homepage"), str, f"{where}: 'homepage'", optional=True),
        paper=_expect(m.get("paper"), str, f"{where}: 'paper'", optional=True),
    )


def _parse_source(where: str, s: Any) -> Source:
    _expect(s, dict, where)
    kind = s.get("type")
    size = _expect(s.get("size"), int, f"{where}: 'size'", optional=True)
    sha = _expect(s.get("sha256"), str, f"{where}: 'sha256'", optional=True)
    if sha is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
        raise CatalogError(f"{where}: 'sha256' must be 64 hexadecimal digits")
    if kind == "huggingface":
        return Source(
            type=kind,
            repo=_expect(s.get("repo"), str, f"{where}: 'repo'"),
            filename=_expect(s.get("filename"), str, f"{where}: 'filename'"),
            revision=_expect(s.get("revision", "main"), str, f"{where}: 'revision'"),
            size=size,
            sha256=sha.lower() if sha else None,
        )
    if kind == "url":
        url = _expect(s.get("url"), str, f"{where}: 'url'")
        if not url.startswith(("https://", "http://")):
            raise CatalogError(f"{where}: 'url' must be an http(s) address, not {url!r}")
        return Source(
            type=kind,
            url=url,
            filename=_expect(s.get("filename"), str, f"{where}: 'filename'", optional=True),
            size=size,
            sha256=sha.lower() if sha else None,
        )
    raise CatalogError(f"{where}: 'type' must be 'huggingface' or 'url', not {kind!r}")


def hf_endpoint(catalog: Catalog | None = None) -> str:
    """The Hugging Face endpoint: ``MATTEAPP_HF_ENDPOINT``, ``HF_ENDPOINT``, the catalog's ``hf_endpoint``, huggingface.co."""
    for value in (os.environ.get("MATTEAPP_HF_ENDPOINT"), os.environ.get("HF_ENDPOINT"), catalog.hf_endpoint if catalog else None):
        if value:
            return value.rstrip("/")
    return DEFAULT_HF_ENDPOINT


# ------------------------------------------------------------------------------------------ locations


def models_dir() -> Path:
    """Where downloaded and installed models live (not created here)."""
    override = os.environ.get("MATTEAPP_MODELS_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("matteapp", appauthor=False)) / "models"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def state_path() -> Path:
    return config_dir() / "models-state.json"


def installed_path(name: str, directory: Path | None = None) -> Path | None:
    """The installed file of catalog model ``name``, or None."""
    if not _NAME.match(name):
        return None
    directory = directory or models_dir()
    for suffix in MODEL_SUFFIXES:
        p = directory / f"{name}{suffix}"
        if p.is_file():
            return p
    return None


def installed_files(name: str, directory: Path | None = None) -> list[Path]:
    """Every file of ``name`` in the models folder (normally one; two after a change of source)."""
    if not _NAME.match(name):
        return []
    directory = directory or models_dir()
    return [p for suffix in MODEL_SUFFIXES if (p := directory / f"{name}{suffix}").is_file()]


@dataclass(frozen=True)
class ModelStatus:
    """One catalog entry and where it stands on this computer (what a model list shows)."""

    entry: CatalogEntry
    path: Path | None  # the installed file
    partial_bytes: int  # bytes of an interrupted download that the next download resumes
    licence_accepted: bool  # no confirmation is needed before downloading

    @property
    def installed(self) -> bool:
        return self.path is not None

    @property
    def size_bytes(self) -> int | None:
        if self.path is not None:
            return self.path.stat().st_size
        return self.entry.expected_size


def model_statuses(catalog: Catalog | None = None) -> list[ModelStatus]:
    catalog = catalog or load_catalog()
    directory = models_dir()
    partial_dir = directory / ".downloads"
    accepted = accepted_licences()
    out = []
    for entry in catalog.entries.values():
        partial = 0
        if partial_dir.is_dir():
            partial = sum(p.stat().st_size for p in partial_dir.glob(f"{entry.name}@*.part") if p.is_file())
        ok = all(not d.research_only or d.id in accepted for d in entry.training_data)
        out.append(ModelStatus(entry, installed_path(entry.name, directory), partial, ok))
    return out


# ----------------------------------------------------------------------------------- settings & state


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        # A damaged settings file must not stop the app from starting; it is rewritten on the next save.
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), force=True)


def read_settings() -> dict:
    return _read_json(settings_path())


def pinned_model() -> tuple[str | None, str]:
    """(the pinned model, where the pin comes from): ``MATTEAPP_MODEL`` first, then settings.json ``model``."""
    env = os.environ.get("MATTEAPP_MODEL")
    if env:
        return env, "MATTEAPP_MODEL"
    value = read_settings().get("model")
    if isinstance(value, str) and value:
        return value, str(settings_path())
    return None, ""


def set_pinned_model(value: str | None) -> None:
    """Pin the default model (a catalog name, ``bundled`` or a checkpoint path); None removes the pin."""
    settings = read_settings()
    if value is None:
        settings.pop("model", None)
    else:
        settings["model"] = value
    _write_json(settings_path(), settings)


def read_state() -> dict:
    return _read_json(state_path())


def write_state(state: dict) -> None:
    _write_json(state_path(), state)


def accepted_licences() -> set[str]:
    value = read_state().get("accepted_licences", {})
    return set(value) if isinstance(value, dict) else set()


def pending_licences(entry: CatalogEntry) -> list[Dataset]:
    """The research-only datasets of ``entry`` whose terms the user has not confirmed yet."""
    accepted = accepted_licences()
    return [d for d in entry.training_data if d.research_only and d.id not in accepted]


def accept_licences(datasets: list[Dataset]) -> None:
    if not datasets:
        return
    state = read_state()
    accepted = state.get("accepted_licences")
    if not isinstance(accepted, dict):
        accepted = {}
    now = _now()
    for d in datasets:
        accepted.setdefault(d.id, {"at": now, "licence": d.licence})
    state["accepted_licences"] = accepted
    write_state(state)


def recorded_sha256(name: str, source: Source) -> str | None:
    record = read_state().get("sha256", {}).get(name, {}).get(source.key)
    return record.get("sha256") if isinstance(record, dict) else None


def record_sha256(name: str, source: Source, sha256: str, size: int) -> None:
    state = read_state()
    hashes = state.get("sha256")
    if not isinstance(hashes, dict):
        hashes = {}
    per_model = hashes.get(name) if isinstance(hashes.get(name), dict) else {}
    per_model[source.key] = {"sha256": sha256, "size": size, "at": _now()}
    hashes[name] = per_model
    state["sha256"] = hashes
    write_state(state)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------ default choice


class DefaultModel(NamedTuple):
    """The model that runs when none is named, and why (for the GUI's "which model runs" line)."""

    name: str  # a catalog name, "bundled", or a checkpoint file's stem
    path: Path
    reason: str


def choose_default_model(bundled: Path | None) -> DefaultModel | None:
    """A pinned model (``MATTEAPP_MODEL``, else settings.json ``model``), else the first installed model
    of the catalog's ``default_order``, else ``bundled``; None when there is none of these.

    A pin from the environment that cannot be honoured raises FileNotFoundError (a script asked for
    that model); a pin in the settings file falls back and says so in the reason, so that removing a
    model never stops the application from starting.
    """
    notes: list[str] = []
    pin, origin = pinned_model()
    if pin:
        try:
            name, path = _resolve_pin(pin, bundled)
        except FileNotFoundError as exc:
            if origin == "MATTEAPP_MODEL":
                raise FileNotFoundError(f"MATTEAPP_MODEL={pin}: {exc}") from None
            notes.append(f"the model pinned in {origin} ({pin}) is unavailable: {exc}")
        else:
            return DefaultModel(name, path, f"pinned by {origin}")
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        notes.append(str(exc))
        catalog = None
    if catalog is not None:
        directory = models_dir()
        for name in catalog.default_order:
            path = installed_path(name, directory)
            if path is not None:
                reason = f"the best installed official model (catalog order: {', '.join(catalog.default_order)})"
                return DefaultModel(name, path, "; ".join(notes + [reason]))
    if bundled is not None:
        first = catalog.default_order[0] if catalog is not None and catalog.default_order else "mematte-s-realworld"
        reason = f"the bundled model: no official model is installed (`matteapp models download {first}` gets one)"
        return DefaultModel("bundled", bundled, "; ".join(notes + [reason]))
    return None


def _resolve_pin(pin: str, bundled: Path | None) -> tuple[str, Path]:
    if pin == "bundled":
        if bundled is None:
            raise FileNotFoundError("no bundled model is installed")
        return "bundled", bundled
    if _NAME.match(pin) and not Path(pin).is_file():
        path = installed_path(pin)
        if path is not None:
            return pin, path
        try:
            known = pin in load_catalog()
        except CatalogError:
            known = False
        if known:
            raise FileNotFoundError(f"{pin} is not installed: run `matteapp models download {pin}`")
    path = Path(pin).expanduser()
    if path.is_file():
        return path.stem, path
    raise FileNotFoundError(f"{pin!r} is neither an installed catalog model, 'bundled', nor an existing checkpoint file")


def catalog_model_path(name: str) -> Path | None:
    """The installed file of catalog model ``name``; None if ``name`` is not a catalog name.

    Raises FileNotFoundError naming the command that installs it when it is a catalog model that is
    not installed.
    """
    if not _NAME.match(name):
        return None
    path = installed_path(name)
    if path is not None:
        return path
    try:
        catalog = load_catalog()
    except CatalogError:
        return None
    if name not in catalog:
        return None
    raise FileNotFoundError(
        f"model {name!r} is not installed (looked in {models_dir()}): run `matteapp models download {name}`, "
        f"or `matteapp models install {name} FILE` for a file you downloaded yourself"
    )
