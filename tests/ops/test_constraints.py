"""constraints.txt is the one list of pinned versions: the Makefile, .ci/run and the Dockerfile install from
it, and what is installed here is what it pins (so a drifted .venv, or a pin nobody tested, fails the suite).

The Celery / kombu / redis-py trio is the reason: the broker code paths that run when Redis drops differ
between releases, and the suite (and the restart behaviour of `rbsync run`) is proven on these."""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib import metadata
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
# The packages whose versions decide how the worker behaves on a broker failure, and the HTTP client.
MUST_MATCH = ("celery", "kombu", "redis", "billiard", "httpx")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for number, line in enumerate(CONSTRAINTS.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        assert match, f"constraints.txt line {number} is not an exact pin: {line!r}"
        name = normalise(match.group(1))
        assert name not in found, f"{name} is pinned twice"
        found[name] = match.group(2)
    return found


def requirement_name(requirement: str) -> str:
    return normalise(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0))


def installs_with_constraints(command: str) -> bool:
    """A `pip install` command line that passes `-c constraints.txt` (or `--constraint`)."""
    words = shlex.split(command)
    if "pip" not in " ".join(words) or "install" not in words:
        return False
    for flag, value in pairwise(words):
        if flag in {"-c", "--constraint"} and value == "constraints.txt":
            return True
    return any(word == "--constraint=constraints.txt" for word in words)


def test_every_line_is_an_exact_pin_and_the_file_says_how_to_update_it() -> None:
    text = CONSTRAINTS.read_text()
    assert text.startswith("#"), "constraints.txt starts with a header comment"
    assert "To move one package" in text and "pip freeze --exclude-editable" in text
    assert len(pins()) > 20


@pytest.mark.parametrize("package", MUST_MATCH)
def test_installed_version_matches_its_pin(package: str) -> None:
    pinned = pins().get(package)
    assert pinned, f"{package} is not pinned in constraints.txt"
    installed = metadata.version(package)
    assert installed == pinned, (
        f"{package} {installed} is installed but constraints.txt pins {pinned}: run `make install`, or, if"
        " the new version is intended, update constraints.txt (its header says how) and run the suite"
    )


def test_every_dependency_of_the_project_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    missing = {requirement_name(r) for r in requirements} - set(pins())
    assert not missing, f"not pinned in constraints.txt: {sorted(missing)}"


def test_makefile_installs_with_the_constraints_and_reinstalls_when_they_change() -> None:
    lines = (ROOT / "Makefile").read_text().splitlines()
    rule = next(i for i, line in enumerate(lines) if re.match(r"\$\(BIN\)/rbsync\s*:", line))
    prerequisites = lines[rule].split(":", 1)[1].split()
    assert "constraints.txt" in prerequisites and "pyproject.toml" in prerequisites
    recipe = []
    for line in lines[rule + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)/", ""))
    project_installs = [line for line in recipe if "pip install" in line and "-e" in line.split()]
    assert project_installs, recipe
    assert all(installs_with_constraints(line) for line in project_installs), project_installs


def test_dockerfile_copies_the_constraints_and_installs_with_them() -> None:
    instructions = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    copied_at = next(
        i for i, line in enumerate(instructions) if line.startswith("COPY") and "constraints.txt" in line
    )
    installs = [i for i, line in enumerate(instructions) if line.startswith("RUN") and "pip install" in line]
    assert installs, "the Dockerfile installs nothing"
    for index in installs:
        assert installs_with_constraints(instructions[index][len("RUN") :]), instructions[index]
        assert copied_at < index, "constraints.txt must be copied before the install that uses it"


def test_ci_installs_through_make_and_so_from_the_constraints() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in script.splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")]
    assert "constraints.txt" in script
    assert "make install" in commands and "make test" in commands
    assert commands.index("make install") < commands.index("make test")
    # No second, unpinned way in: every pip call in CI goes through the Makefile.
    assert not any(re.search(r"\bpip\b.*\binstall\b", line) for line in commands)
