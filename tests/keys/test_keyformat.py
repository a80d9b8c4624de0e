"""The key format: structure, checksum, and what the server secret file looks like."""

from __future__ import annotations

import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.auth import keyformat
from app.auth.redact import redact
from app.auth.secret import MissingServerSecret, load_hmac_key
from app.settings import Settings


def test_generated_keys_have_the_documented_shape():
    full, parts = keyformat.generate("live")
    assert keyformat.KEY_PATTERN.fullmatch(full)
    assert full.startswith(f"cq_live_{parts.key_id}_{parts.secret}")
    assert len(full) == 3 + 5 + 12 + 1 + 30 + 6
    assert keyformat.parse(full) == parts
    assert parts.secret not in repr(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_single_character_typo_is_caught_by_the_checksum(data):
    full, _ = keyformat.generate(data.draw(st.sampled_from(keyformat.MODES)))
    positions = [j for j in range(len("cq_live_"), len(full)) if full[j] != "_"]
    i = data.draw(st.sampled_from(positions))
    shift = data.draw(st.integers(min_value=1, max_value=len(keyformat.BASE62) - 1))
    replacement = keyformat.BASE62[(keyformat.BASE62.index(full[i]) + shift) % 62]
    typo = full[:i] + replacement + full[i + 1 :]
    with pytest.raises(keyformat.KeyFormatError) as caught:
        keyformat.parse(typo)
    assert caught.value.reason == "bad_checksum"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_arbitrary_strings_are_rejected_without_crashing(text):
    with pytest.raises(keyformat.KeyFormatError):
        keyformat.parse(text)


def test_transposed_characters_are_caught():
    full, _ = keyformat.generate("test")
    i = len(full) - 12
    if full[i] == full[i + 1]:
        i -= 1
    swapped = full[:i] + full[i + 1] + full[i] + full[i + 2 :]
    with pytest.raises(keyformat.KeyFormatError):
        keyformat.parse(swapped)


def test_hash_is_keyed_and_bound_to_the_id():
    h = keyformat.secret_hash(b"k1" * 16, "AAAAAAAAAAAA", "s" * 30)
    assert len(h) == 64
    assert h != keyformat.secret_hash(b"k2" * 16, "AAAAAAAAAAAA", "s" * 30)
    assert h != keyformat.secret_hash(b"k1" * 16, "BBBBBBBBBBBB", "s" * 30)


def test_key_ids_are_accepted_with_or_without_prefix():
    assert keyformat.normalise_key_id("cq_live_AbCdEfGhIjKl") == "AbCdEfGhIjKl"
    assert keyformat.normalise_key_id("AbCdEfGhIjKl") == "AbCdEfGhIjKl"
    with pytest.raises(ValueError):
        keyformat.normalise_key_id("short")


def test_redaction():
    full, parts = keyformat.generate("live")
    for text in (
        f"GET /graphql?x={full}",
        f"Authorization: Bearer {full}",
        f"/graphql?api_key={parts.secret}&q=1",
        f"token={parts.secret}",
    ):
        assert parts.secret not in redact(text)
    assert redact("nothing to see") == "nothing to see"


def test_development_generates_a_private_secret_once(tmp_path):
    settings = Settings(env="development", data_dir=tmp_path / "data")
    first = load_hmac_key(settings)
    second = load_hmac_key(settings)
    path = tmp_path / "data" / "key_hmac_secret"
    assert first == second
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["key_hmac_secret"]


def test_production_requires_a_configured_secret(tmp_path):
    with pytest.raises(MissingServerSecret, match="required in production"):
        load_hmac_key(Settings(env="production", data_dir=tmp_path))
    with pytest.raises(MissingServerSecret, match="at least 32"):
        load_hmac_key(Settings(env="production", data_dir=tmp_path, key_hmac_secret="short"))
    good = "p" * 40
    assert load_hmac_key(Settings(env="production", data_dir=tmp_path, key_hmac_secret=good)) == (
        good.encode()
    )
    assert not (tmp_path / "key_hmac_secret").exists()
