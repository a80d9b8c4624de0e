"""Render the settings as the Markdown table in the README (kept in sync by a test)."""

from __future__ import annotations

import json
from typing import Any

from pydantic.fields import FieldInfo

from app.settings import Settings

START = "<!-- settings-table:start -->"
END = "<!-- settings-table:end -->"


def _env_names(name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return " / ".join(f"`{c}`" for c in choices)
    return f"`CRYPTOQL_{name.upper()}`"


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value == "" or value is None:
        return "(empty)"
    if isinstance(value, (list, dict)):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        desc = (info.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {_env_names(name, info)} | {_default(info)} | {desc} |")
    return "\n".join(rows)


def render_into(readme: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{settings_table()}\n{END}{tail}"


def main() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "README.md"
    path.write_text(render_into(path.read_text()))
    print(f"updated the settings table in {path}")


if __name__ == "__main__":
    main()
