"""One way to validate a params.yaml section: read every key, report every problem at once.

Each stage's settings are a frozen dataclass with a ``from_section`` class
method that reads its section through a :class:`SectionReader`::

    reader = SectionReader(values, "split")
    config = SplitConfig(seed=reader.integer("seed", minimum=0), ...)
    reader.finish()     # unknown keys, and every problem found, in one ConfigError

A reader never raises on the first bad key: it records the problem (naming
the key path, e.g. ``split.val_originals.hole``, what it got and what it
accepts), returns a placeholder, and :meth:`SectionReader.finish` raises one
:class:`~textile_defects.errors.ConfigError` listing them all, so a user
fixes a params file in one pass. Values are never coerced: ``seed: 4.7`` is
an error, not 4.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from textile_defects.errors import ConfigError

T = TypeVar("T")

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
"""Device settings every stage accepts: auto (CUDA when present), cpu or cuda."""

_MISSING = object()


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS has one, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class SectionReader:
    """Reads keys of one params section, collecting problems instead of raising at once."""

    def __init__(self, values: Any, path: str) -> None:
        self.path = path
        self.problems: list[str] = []
        self.read: set[str] = set()
        if not isinstance(values, Mapping):
            self.problems.append(f"{path}: expected a mapping of keys, got {values!r}")
            values = {}
        self.values: Mapping[str, Any] = values

    # -- bookkeeping -----------------------------------------------------------------

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}"

    def problem(self, key: str, value: Any, expected: str) -> None:
        """Record that ``key`` holds ``value`` where ``expected`` was wanted."""
        self.problems.append(f"{self.key_path(key)}: got {value!r}; expected {expected}")

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        """The value of ``key`` as written (``default`` when absent; absent without default is a problem)."""
        self.read.add(key)
        if key in self.values:
            return self.values[key]
        if default is _MISSING:
            self.problems.append(f"{self.key_path(key)}: missing; add it to params.yaml")
            return None
        return default

    def _check(self, key: str, accept: Callable[[Any], bool], expected: str, placeholder: Any, optional: bool) -> Any:
        value = self.raw(key)
        if key not in self.values:
            return placeholder
        if value is None and optional:
            return None
        if not accept(value):
            self.problem(key, value, expected + (" or null" if optional else ""))
            return placeholder
        return value

    # -- typed readers ------------------------------------------------------------------

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None, optional: bool = False) -> Any:
        def accept(v: Any) -> bool:
            return _is_int(v) and (minimum is None or v >= minimum) and (maximum is None or v <= maximum)

        limits = [f">= {minimum}"] * (minimum is not None) + [f"<= {maximum}"] * (maximum is not None)
        return self._check(key, accept, "an integer" + (" " + " and ".join(limits) if limits else ""), 0, optional)

    def number(
        self,
        key: str,
        *,
        minimum: float | None = None,
        above: float | None = None,
        below: float | None = None,
        maximum: float | None = None,
        optional: bool = False,
    ) -> Any:
        bounds = ((minimum, ">=", float.__ge__), (above, ">", float.__gt__), (below, "<", float.__lt__), (maximum, "<=", float.__le__))

        def accept(v: Any) -> bool:
            return _is_number(v) and all(limit is None or test(float(v), float(limit)) for limit, _, test in bounds)

        text = " and ".join(f"{op} {limit}" for limit, op, _ in bounds if limit is not None)
        value = self._check(key, accept, "a number" + (" " + text if text else ""), 0.0, optional)
        return None if value is None else float(value)

    def boolean(self, key: str) -> bool:
        return bool(self._check(key, lambda v: isinstance(v, bool), "true or false", False, False))

    def string(self, key: str, *, optional: bool = False) -> Any:
        return self._check(key, lambda v: isinstance(v, str) and v != "", "a non-empty string", "", optional)

    def choice(self, key: str, options: Sequence[str]) -> Any:
        return self._check(key, lambda v: v in options, f"one of {list(options)}", options[0], False)

    def int_pair(self, key: str, *, minimum: int, what: str = "[width, height] in pixels") -> tuple[int, int]:
        def accept(v: Any) -> bool:
            return isinstance(v, list | tuple) and len(v) == 2 and all(_is_int(x) and x >= minimum for x in v)

        value = self._check(key, accept, f"{what}, each an integer >= {minimum}", (minimum, minimum), False)
        return int(value[0]), int(value[1])

    def number_range(self, key: str, *, minimum: float | None = None) -> tuple[float, float]:
        """A ``[low, high]`` pair of numbers with low <= high (and both >= ``minimum`` when given)."""

        def accept(v: Any) -> bool:
            ok = isinstance(v, list | tuple) and len(v) == 2 and all(_is_number(x) for x in v) and v[0] <= v[1]
            return ok and (minimum is None or v[0] >= minimum)

        floor = "" if minimum is None else f", both >= {minimum}"
        value = self._check(key, accept, f"[low, high] numbers with low <= high{floor}", (0.0, 0.0), False)
        return float(value[0]), float(value[1])

    def int_list(self, key: str, *, minimum: int = 1, non_empty: bool = True) -> tuple[int, ...]:
        def accept(v: Any) -> bool:
            return isinstance(v, list | tuple) and (bool(v) or not non_empty) and all(_is_int(x) and x >= minimum for x in v)

        value = self._check(key, accept, f"a {'non-empty ' if non_empty else ''}list of integers >= {minimum}", (), False)
        return tuple(value)

    def string_list(self, key: str, *, options: Sequence[str] | None = None, non_empty: bool = True) -> tuple[str, ...]:
        def accept(v: Any) -> bool:
            ok = isinstance(v, list | tuple) and (bool(v) or not non_empty) and all(isinstance(x, str) and x for x in v)
            return ok and len(set(v)) == len(v) and (options is None or all(x in options for x in v))

        among = "" if options is None else f" from {list(options)}"
        value = self._check(key, accept, f"a list of distinct names{among}", (), False)
        return tuple(value)

    def per_class(
        self, key: str, classes: Sequence[str], read_one: Callable[[SectionReader, str], T], *, all_required: bool = True
    ) -> dict[str, T]:
        """A mapping class -> value, each read by ``read_one(sub_reader, class)``; unknown classes are problems."""
        value = self.raw(key)
        sub = SectionReader(value if value is not None else {}, self.key_path(key))
        result: dict[str, T] = {}
        for name in classes:
            if name in sub.values or all_required:
                result[name] = read_one(sub, name)
        sub.finish_into(self)
        return result

    def sub_section(self, key: str) -> SectionReader:
        """A reader for a nested mapping; call ``finish_into(self)`` on it when done."""
        return SectionReader(self.raw(key), self.key_path(key))

    # -- the end -----------------------------------------------------------------------

    def _unknown(self, known: Sequence[str] | None) -> list[str]:
        allowed = set(known) if known is not None else self.read
        return [f"{self.key_path(k)}: unknown key; known keys: {sorted(allowed)}" for k in sorted(set(self.values) - allowed)]

    def finish_into(self, parent: SectionReader, known: Sequence[str] | None = None) -> None:
        """Hand this nested reader's problems (and unknown keys) to ``parent``."""
        parent.problems.extend(self.problems + self._unknown(known))

    def finish(self, known: Sequence[str] | None = None) -> None:
        """Raise one :class:`ConfigError` listing every problem, unknown keys included (keys read are known)."""
        problems = self.problems + self._unknown(known)
        if problems:
            raise ConfigError(f"params.yaml [{self.path}]: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
