"""User plugins: Python files that register losses or architectures into gansweep's registries.

A config's ``plugins: [my_loss.py]`` names them (paths relative to the working directory).
They are imported before the config is validated, so the schema accepts the names they
register, and every job spec carries their absolute paths so that each training or
evaluation process (local or on a cluster node) imports them before it looks a name up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from gansweep.errors import GansweepError
from gansweep.registry import Registry


class PluginError(GansweepError, ValueError):
    """A plugin file is missing, fails to import, or registers a name that is taken."""


_LOADED: dict[Path, ModuleType] = {}  # a file is imported once per process


def resolve(paths: Iterable[str]) -> list[str]:
    """Absolute paths (relative ones are taken from the working directory), in order, once."""
    out: list[str] = []
    for name in paths:
        path = str(Path(name).expanduser().resolve())
        if path not in out:
            out.append(path)
    return out


def load_plugins(paths: Iterable[str]) -> list[str]:
    """Import every plugin file (once per process); returns their absolute paths."""
    resolved = resolve(paths)
    for path in map(Path, resolved):
        if path not in _LOADED:
            _LOADED[path] = _import(path)
    return resolved


def _import(path: Path) -> ModuleType:
    if not path.is_file():
        raise PluginError(f"plugin {path}: no such file")
    # A unique module name per file: two plugins may share a file name.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"gansweep_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin {path}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    Registry.loading_plugin = str(path)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # any error inside user code: report it with the file
        del sys.modules[name]
        raise PluginError(f"plugin {path} failed to import: {type(err).__name__}: {err}") from err
    finally:
        Registry.loading_plugin = None
    return module
