"""The ingest commands are registered on ``cryptoql`` and explain themselves."""

from __future__ import annotations

import pytest

from app.cli import build_parser


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ingest", "--once"),
        ("backfill", "--from"),
        ("import", "FILE"),
    ],
)
def test_commands_have_help(command, expected, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert expected in capsys.readouterr().out


def test_backfill_requires_its_range():
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["backfill", "--source", "simulated", "--assets", "bitcoin"])
    assert exit_.value.code == 2
