"""Lazy re-exports for package ``__init__`` files (PEP 562): a name's module is imported on first use.

A stage package lists its public names and the module that owns each; ``import
reprogrid.emulator`` then costs nothing, and ``from reprogrid.emulator import dryrun`` imports the
emulator only then. Keeps ``reprogrid --help`` and ``reprogrid validate`` from loading
numpy, pandas or the bindings through a sibling they never use.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps a module (relative to the
    package, e.g. ``".study"``) to the names it gives. Unknown names raise ``AttributeError``
    (so ``from package import submodule`` still finds submodules)."""
    owner: Dict[str, str] = {name: module for module, names in exports.items() for name in names}
    namespace = import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        module = owner.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> List[str]:
        return sorted(set(namespace) | set(owner))

    return __getattr__, __dir__
