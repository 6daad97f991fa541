"""uv.lock, read without the network: every install comes from it, on any Python 3.11+ on Linux."""

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = [(3, 11), (3, 12), (3, 13)]
MACHINES = ["x86_64", "aarch64"]
GLIBC_MINOR = 36  # Debian 12: the oldest base a new user's machine or the image is likely on


def locked() -> dict[str, Any]:
    with (ROOT / "uv.lock").open("rb") as file:
        return tomllib.load(file)


def tags(python: tuple[int, int], machine: str) -> set[Tag]:
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 4, -1)]
    platforms += [f"manylinux2014_{machine}", f"linux_{machine}"]
    return set(cpython_tags(python, platforms=platforms)) | set(
        compatible_tags(python, platforms=platforms)
    )


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("python", PYTHONS, ids=lambda v: f"{v[0]}.{v[1]}")
def test_every_locked_package_installs_from_a_wheel(python: tuple[int, int], machine: str) -> None:
    """A package with no wheel would be built from source: slow, needing a compiler, or failing."""
    wanted = tags(python, machine)
    packages = [p for p in locked()["package"] if "registry" in p["source"]]
    assert len(packages) > 50
    missing = [
        f"{package['name']} {package['version']}"
        for package in packages
        if not any(
            parse_wheel_filename(wheel["url"].rsplit("/", 1)[1])[3] & wanted
            for wheel in package.get("wheels", [])
        )
    ]
    assert not missing, f"no wheel for CPython {python} on {machine}: {missing}"


def test_every_locked_file_has_a_hash() -> None:
    for package in locked()["package"]:
        for file in [*package.get("wheels", []), *filter(None, [package.get("sdist")])]:
            assert file["hash"].startswith("sha256:"), package["name"]
