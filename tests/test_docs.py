"""The README's settings table is generated from app/settings.py and must stay in sync."""

from pathlib import Path

from app.settings import Settings
from app.settings_doc import render_into

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_settings_table_is_current():
    text = README.read_text()
    assert render_into(text) == text, (
        "README settings table is stale: run "
        "`.venv/bin/python -m app.settings_doc` and commit README.md"
    )


def test_every_setting_is_described():
    missing = [name for name, f in Settings.model_fields.items() if not f.description]
    assert not missing, f"settings without a description: {missing}"
