"""A tiny name -> object registry, one per concept (losses, models, datasets, metrics)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; unknown names fail with the list of known ones."""

    # The plugin file being imported (set by gansweep.plugins), recorded as each entry's origin.
    loading_plugin: str | None = None

    def __init__(self, concept: str):
        self.concept = concept
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            origin = Registry.loading_plugin or "the gansweep package"
            if name in self._items:
                raise ValueError(
                    f"{self.concept} {name!r} is already registered (by {self._origins[name]}); "
                    f"pick another name (registered: {', '.join(self.names())})"
                )
            self._items[name] = obj
            self._origins[name] = origin
            return obj

        return decorate

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise KeyError(f"unknown {self.concept} {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)

    def in_order(self) -> list[str]:
        """Names in registration order (the package's own first, then plugins')."""
        return list(self._items)

    def describe(self, name: str) -> str:
        """One line: the entry's ``description`` attribute, else its docstring's first line."""
        return describe(self[name])

    def origin(self, name: str) -> str:
        """Who registered ``name``: the package, or a plugin's file."""
        self[name]  # unknown names fail with the known ones
        return self._origins[name]


def describe(obj: object) -> str:
    """An object's ``description`` attribute, else the first paragraph of its docstring, on one line."""
    if isinstance(obj, functools.partial):
        return describe(obj.func)
    text = getattr(obj, "description", None)
    if not isinstance(text, str) or not text.strip():
        doc = inspect.getdoc(obj) or ""
        # A dataclass without a docstring gets its signature as one: not a description.
        text = "" if doc.startswith(f"{type(obj).__name__}(") else doc
    return " ".join(text.strip().split("\n\n")[0].split())
