"""Every resolver of the real schema declared a plain read (``schema.compiled.batch.reads``)
reads exactly the path it declares: the compiled path reads the path instead of calling
it, so a body that read anything else would answer differently there."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from schema.build import build_schema
from schema.compiled.batch import reads_of, reads_via


def _declared() -> list[tuple[str, Any, str]]:
    schema = build_schema()
    found = []
    for type_def in schema.schema_converter.type_map.values():
        definition = type_def.definition
        for field in getattr(definition, "fields", ()):
            resolver = getattr(field, "base_resolver", None)
            if resolver is None:
                continue
            path = reads_of(resolver.wrapped_func)
            if path is not None:
                found.append((f"{definition.name}.{field.name}", resolver.wrapped_func, path))
    return found


def test_declared_reads_read_their_path():
    declared = _declared()
    names = {name for name, _func, _path in declared}
    # the views the dashboard reads are among them (a refactor that drops the marks shows here)
    assert {"Asset.symbol", "Asset.name", "Signal.kind", "Signal.value"} <= names
    for name, func, path in declared:
        via = reads_via(func)
        # a converted read gets a stored-looking string; a plain one, a unique object
        sentinel: Any = "bullish" if via is not None else object()
        obj: Any = sentinel
        for part in reversed(path.split(".")):
            obj = SimpleNamespace(**{part: obj})
        if via is None:
            assert func(obj) is sentinel, f"{name} does not read self.{path}"
        else:
            assert _outcome(func, obj) == _outcome(via, sentinel), f"{name} is not via(self.{path})"
    assert {"Signal.direction", "Price.method"} <= {n for n, f, _p in declared if reads_via(f)}


def _outcome(fn: Any, arg: Any) -> Any:
    """What ``fn(arg)`` returns, or the type and text of what it raises."""
    try:
        return ("value", fn(arg))
    except Exception as exc:
        return ("raised", type(exc), str(exc))
