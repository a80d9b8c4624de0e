"""The fast text decoder builds exactly what ExactDecimal returns."""

from decimal import Decimal

import pytest

from storage.repositories.decode import dec
from storage.types import canonical_decimal

CASES = [
    "0",
    "0.000",
    "-0.000000000000000000",
    "1.500",
    "100.000",
    "100",
    "64000.100000000000000000",
    "0.000000000000000001",
    "-12.340",
    "123456789012345678901.123456789012345678",
    "115792089237316195423570985008687907853269984665640564039457584007913129639935",
]


@pytest.mark.parametrize("text", CASES)
def test_dec_matches_canonical_decimal(text):
    fast, slow = dec(text), canonical_decimal(Decimal(text))
    assert fast == slow
    assert str(fast) == str(slow)


def test_none_stays_none():
    assert dec(None) is None
