"""The client and the e-conomic sandbox encode product numbers independently (so one cannot hide the
other's mistake); here they must agree on every awkward number, and the sandbox must read back what the
client writes."""

from __future__ import annotations

import pytest

from clients.economic import encode_key as client_encode
from sandbox.economic.ids import decode_key
from sandbox.economic.ids import encode_key as sandbox_encode

NUMBERS = [
    "PLAIN-1",
    "EV/100001",
    "My Awesome Product_Discount5%",
    "A+B",
    "x?y#z",
    "1.5",
    "<>*:&\\",
    "Søm 2,5 mm",
    "50~",
    "_8_",
    "100",
]


@pytest.mark.parametrize("number", NUMBERS)
def test_client_and_sandbox_write_the_same_path_segment(number: str) -> None:
    assert client_encode(number) == sandbox_encode(number)
    assert decode_key(client_encode(number)) == number
