"""Guards on the repository layout itself."""

import importlib.metadata

import pytest

import schema


def test_pypi_package_named_schema_is_not_installed():
    # Our top-level `schema/` package would be shadowed by (or shadow) it.
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("schema")


def test_schema_package_is_ours():
    assert schema.__file__ is not None
    assert schema.__file__.endswith("schema/__init__.py")
