"""``python -m sandbox ... --size S`` without ``--seed`` loads the preset from the default seed (it used to
load nothing, silently); nothing asked for, nothing loaded."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from sandbox.__main__ import DEFAULT_SEED
from tests.sandbox.test_cli import ROOT, sandbox_process

pytest.importorskip("sandbox.seed", reason="the seed generator (sandbox.seed) is not available")


def counts_and_output(*args: str) -> tuple[dict[str, int], str]:
    with sandbox_process("rackbeat", *args) as (url, process):
        counts = httpx.get(url + "/_sandbox/counts").json()
        process.terminate()
        output, _ = process.communicate(timeout=15)
    return counts, output


def test_a_size_without_seed_loads_that_preset_from_the_default_seed():
    default, said = counts_and_output("--size", "tiny")
    explicit, _ = counts_and_output("--size", "tiny", "--seed", str(DEFAULT_SEED))

    assert default["products"] > 0 and default["customers"] > 0
    assert default == explicit
    assert said.splitlines()[0].startswith(f"seed {DEFAULT_SEED} (default): ")


def test_a_count_without_seed_loads_too():
    counts, _ = counts_and_output("--size", "tiny", "--products", "5")

    assert counts["products"] == 5


def test_nothing_asked_for_nothing_loaded():
    counts, said = counts_and_output()

    assert counts["products"] == 0
    assert "seed" not in said


def test_an_unknown_size_is_refused_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "rackbeat", "--port", "0", "--size", "huge"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode != 0
    assert done.stderr.splitlines() == [
        "python -m sandbox: unknown seed size 'huge'; presets: tiny, small, medium, large"
    ]
