"""Named presets of the official architectures and the builder that turns a config into a network."""

from __future__ import annotations

from collections.abc import Callable

from matteapp.model.network import MattingConfig, MattingNetwork

_PRESETS: dict[str, Callable[[], MattingConfig]] = {}


def register_preset(name: str):
    def wrap(fn: Callable[[], MattingConfig]):
        _PRESETS[name] = fn
        return fn

    return wrap


@register_preset("mematte-s")
def _mematte_s() -> MattingConfig:
    return MattingConfig(name="mematte-s", embed_dim=384, num_heads=6, routed=True)


@register_preset("mematte-b")
def _mematte_b() -> MattingConfig:
    return MattingConfig(name="mematte-b", embed_dim=768, num_heads=12, routed=True)


@register_preset("vitmatte-s")
def _vitmatte_s() -> MattingConfig:
    return MattingConfig(name="vitmatte-s", embed_dim=384, num_heads=6, routed=False, global_rel_pos_size=32)


@register_preset("vitmatte-b")
def _vitmatte_b() -> MattingConfig:
    return MattingConfig(name="vitmatte-b", embed_dim=768, num_heads=12, routed=False, global_rel_pos_size=32)


@register_preset("mematte-t")
def _mematte_t() -> MattingConfig:
    """Compact variant (D=192) sized for CPU training; not an official release."""
    return MattingConfig(name="mematte-t", embed_dim=192, num_heads=3, routed=True)


@register_preset("vitmatte-t")
def _vitmatte_t() -> MattingConfig:
    return MattingConfig(name="vitmatte-t", embed_dim=192, num_heads=3, routed=False, global_rel_pos_size=32)


def preset_names() -> list[str]:
    return sorted(_PRESETS)


def preset_config(name: str) -> MattingConfig:
    try:
        return _PRESETS[name]()
    except KeyError:
        raise KeyError(f"unknown model preset {name!r}; choose one of {', '.join(preset_names())}") from None


def build_model(config: MattingConfig | str) -> MattingNetwork:
    """A network with fresh (random) weights for a config or preset name, in eval mode."""
    if isinstance(config, str):
        config = preset_config(config)
    return MattingNetwork(config).eval()
