"""Initializer names as users type them: the registry's own, their aliases (Keras',
PyTorch's and the common names: `xavier`, `HeUniform`, `kaiming_uniform_`), in any case,
and `all`. This is the one place a typed name becomes the registry's name (config/schema.py's
`compare.inits`, config/resolve.py's `init.name`), so `--init xavier` is `--init glorot`:
the same config, the same run folder, the same records. Names that other libraries give
a different distribution are refused with what to use instead; any other name gets the
nearest one a user may type."""

from __future__ import annotations

import difflib
import re

from initcmp.errors import ConfigError
from initcmp.inits.registry import REGISTRY


def _key(name: str) -> str:
    """A name as compared: case, `_`, `-` and spaces ignored, so Keras' `GlorotUniform`
    and PyTorch's `xavier_uniform_` meet `glorot_uniform`."""
    return re.sub(r"[\s_-]", "", name).lower()


# Names other libraries give another distribution than the registry's name of the same
# family (the std agrees, the shape or the default does not): refused, saying so.
_PYTORCH = (
    "PyTorch's {torch}_ is an untruncated normal, {ours} here Keras' truncated one (the "
    "same std): use {ours}, or for PyTorch's `init: {{name: variance_scaling, scale: "
    "{scale}, mode: {mode}, distribution: untruncated_normal}}`"
)
_NOT_ALIASES = {
    "xaviernormal": _PYTORCH.format(
        torch="xavier_normal", ours="glorot_normal", scale=1, mode="fan_avg"
    ),
    "kaimingnormal": _PYTORCH.format(
        torch="kaiming_normal", ours="he_normal", scale=2, mode="fan_in"
    ),
    "randomnormal": "Keras' RandomNormal has stddev 0.05, TF 1's random_normal_initializer "
    "1.0: random here is N(0, 1); `init: {name: random, stddev: 0.05}` is Keras'",
}
# Every name a user may type, by key: the registry's own and their aliases.
_TYPED = {_key(n): (n, s.name) for s in REGISTRY.values() for n in (s.name, *s.aliases)}


def lookup(name: object) -> str | None:
    """The registry's name for `name` (itself or an alias, any case), or None."""
    found = _TYPED.get(_key(name)) if isinstance(name, str) else None
    return found[1] if found else None


def why_not(name: object) -> str:
    """Why `name` is refused, as the end of a message: what it would mean, or the
    nearest name a user may type (` (did you mean 'xavier'?)`), or nothing."""
    if not isinstance(name, str):
        return ""
    if _key(name) in _NOT_ALIASES:
        return f" ({_NOT_ALIASES[_key(name)]})"
    close = difflib.get_close_matches(_key(name), list(_TYPED), n=1, cutoff=0.6)
    return f" (did you mean {_TYPED[close[0]][0]!r}?)" if close else ""


def resolve(name: str) -> str:
    """The registry's name for `name`; anything else is an error naming the valid ones."""
    found = lookup(name)
    if found is None:
        what = "ambiguous initializer" if _key(name) in _NOT_ALIASES else "unknown initializer"
        raise ConfigError(
            f"{what} {name!r}{why_not(name)}; valid names: "
            f"{', '.join(REGISTRY)} (their aliases: `initcmp inits`)"
        )
    return found


def expand(names: list) -> list:
    """`all` (any case) in a list of names stands for every initializer of the registry."""
    every = list(REGISTRY)
    return [n for item in names for n in (every if str(item).lower() == "all" else [item])]
