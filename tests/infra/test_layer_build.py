"""The Lambda artifacts: layer and function zips built from a clean tree, imported from themselves alone.

The build downloads wheels once into ~/.cache/aurora-sync-layer (or $AURORA_SYNC_LAYER_CACHE); with a
warm cache this module takes about half a minute (two full builds and one cold import per function).

The target runtime (layers/target.json) is newer than this project's Python. Its .pyc and the import
tests need an interpreter of the target's version (python3.12 on PATH, as on CI's ubuntu-24.04
runners, or $AURORA_SYNC_TARGET_PYTHON); without one the build ships no .pyc and those tests are
skipped, saying so. What the runtime could not load is checked either way: every wheel tag, extension
module suffix and .pyc in the zips against the target.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

from layers import build as layer_build
from layers import probe as layer_probe

HOST_ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
TARGET = layer_build.Target.load()
TARGET_PYTHON = layer_build.find_target_python(TARGET)
needs_target_python = pytest.mark.skipif(
    TARGET_PYTHON is None,
    reason=f"no {TARGET.runtime} interpreter here (python{TARGET.python_version} on PATH or "
    f"${layer_build.TARGET_PYTHON_ENV}): the artifacts cannot be imported as the runtime would; "
    "their wheel/ABI tags are checked by test_every_binary_in_the_layer_is_built_for_the_target",
)


@pytest.fixture(scope="module")
def target() -> layer_build.Target:
    """The configured target; on a host of the other architecture, the same target built for this one.

    Native wheels (pydantic_core, cryptography, ...) only import on the architecture they were built
    for, so the import test needs artifacts for the machine it runs on.
    """
    return layer_build.Target.load(architecture=HOST_ARCH)


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, target: layer_build.Target
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("build-a")
    assert not any(out.iterdir())
    return out, layer_build.build(out, target)


def _names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def test_target_is_the_one_terraform_reads() -> None:
    """GIVEN layers/target.json WHEN loaded THEN it names a supported runtime, architecture and budget:
    python3.12 on Amazon Linux 2023 (glibc 2.34); python3.11 runs on Amazon Linux 2, out of support."""
    raw = json.loads(layer_build.TARGET_JSON.read_text())
    target = layer_build.Target.load()
    assert raw["runtime"] == target.runtime == "python3.12"
    assert target.glibc == "2.34"
    assert target.architecture in {"x86_64", "arm64"}
    assert raw["layer_zip"] == "build/layer.zip"
    assert raw["function_zip"].format(function="exporter") == "build/exporter.zip"
    assert raw["handler"] == "handler.handler"  # handler.py at the zip root, function `handler`
    assert 0 < target.size_budget_mib <= 100


def test_two_builds_from_the_same_tree_are_byte_identical(
    built: tuple[Path, dict[str, Any]], tmp_path: Path, target: layer_build.Target
) -> None:
    """GIVEN one build WHEN the same tree is built again elsewhere THEN every zip has the same sha256."""
    first_dir, first = built
    second = layer_build.build(tmp_path / "build-b", target)
    assert second["layer"]["sha256"] == first["layer"]["sha256"]
    assert {n: f["sha256"] for n, f in second["functions"].items()} == {
        n: f["sha256"] for n, f in first["functions"].items()
    }
    assert (tmp_path / "build-b" / "layer.zip").read_bytes() == (first_dir / "layer.zip").read_bytes()


def test_layer_holds_the_lock_minus_the_runtime_sdk(built: tuple[Path, dict[str, Any]]) -> None:
    """GIVEN the layer WHEN listed THEN everything sits under python/, without boto3 & co, pyc shipped."""
    out, manifest = built
    names = _names(out / "layer.zip")
    assert names == sorted(names)
    assert all(n.startswith("python/") for n in names)
    top = {PurePosixPath(n).parts[1] for n in names}
    assert {"pydantic", "pydantic_core", "snowflake", "pg8000", "hvac", "aws_lambda_powertools"} <= top
    assert not top & {"boto3", "botocore", "s3transfer", "jmespath", "bin"}
    sources = {n for n in names if n.endswith(".py")}
    compiled = {n for n in names if n.endswith(".pyc")}
    assert len(sources) > 1000
    if manifest["bytecode"]:
        assert manifest["bytecode"] == "cpython-312"
        assert {n for n in compiled if n.endswith(".cpython-312.pyc")} == compiled
        assert len(compiled) == len(sources)
    else:
        assert compiled == set()
    with zipfile.ZipFile(out / "layer.zip") as archive:
        assert {i.date_time for i in archive.infolist()} == {layer_build.ZIP_DATE}
        assert {i.external_attr for i in archive.infolist()} == {layer_build.ZIP_FILE_MODE}
    expected = {p.name for p in layer_build.layer_pins(layer_build.read_lock())}
    assert {parse_wheel_filename(w)[0] for w in manifest["wheels"]} == expected


def test_every_wheel_loads_on_the_runtime_glibc(
    built: tuple[Path, dict[str, Any]], target: layer_build.Target
) -> None:
    """GIVEN the wheels in the layer WHEN their tags are read THEN each is pure or cp312 (or abi3)
    manylinux <= glibc 2.34."""
    _, manifest = built
    for wheel in manifest["wheels"]:
        tags = parse_wheel_filename(wheel)[3]
        assert any(target.supports(t) for t in tags), wheel
    machine = layer_build.ARCH_TAGS[target.architecture]
    assert target.supports(Tag("cp312", "cp312", f"manylinux_2_34_{machine}"))
    assert not target.supports(Tag("cp312", "cp312", f"manylinux_2_35_{machine}"))
    assert not target.supports(Tag("cp311", "cp311", f"manylinux_2_17_{machine}"))
    assert not target.supports(Tag("cp313", "cp313", "any"))
    assert target.supports(Tag("cp37", "abi3", f"manylinux2014_{machine}"))


def test_every_binary_in_the_layer_is_built_for_the_target(
    built: tuple[Path, dict[str, Any]], target: layer_build.Target
) -> None:
    """GIVEN the built zips (the layer's native modules: pydantic_core, cryptography, cffi, ...)
    WHEN every installed wheel's tags, extension module suffix and .pyc in them is read
    THEN each is one the target runtime loads: cp312 or abi3, this architecture, glibc <= 2.34.
    This stands in for importing them, which needs a python3.12 this machine may not have."""
    out, manifest = built
    with zipfile.ZipFile(out / "layer.zip") as archive:
        names = archive.namelist()
    extensions = [n for n in names if n.endswith(".so")]
    machine = layer_build.ARCH_TAGS[target.architecture]
    assert any(n.startswith("python/pydantic_core/") for n in extensions), extensions
    assert any(f".cpython-312-{machine}-linux-gnu.so" in n for n in extensions)
    assert not any(".cpython-311-" in n for n in extensions)
    assert len([n for n in names if n.endswith(".dist-info/WHEEL")]) == len(manifest["wheels"])
    for artifact in ["layer", *manifest["functions"]]:
        assert layer_build.incompatible_members(out / f"{artifact}.zip", target) == [], artifact


def test_the_binary_check_can_fail(tmp_path: Path, target: layer_build.Target) -> None:
    """GIVEN a layer holding what python3.11 on Amazon Linux 2 used (a cp311 extension module, its
    wheel's tags, 3.11 bytecode) WHEN checked against the target THEN each is reported."""
    machine = layer_build.ARCH_TAGS[target.architecture]
    old = tmp_path / "old-layer.zip"
    with zipfile.ZipFile(old, "w") as archive:
        archive.writestr(f"python/pydantic_core/_pydantic_core.cpython-311-{machine}-linux-gnu.so", b"")
        archive.writestr(
            "python/pydantic_core-2.50.4.dist-info/WHEEL",
            f"Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_{machine}\n",
        )
        archive.writestr("python/pydantic/__pycache__/main.cpython-311.pyc", b"")
        archive.writestr("python/pydantic_core/_ok.abi3.so", b"")
    problems = layer_build.incompatible_members(old, target)
    assert [p.split(":")[0] for p in problems] == [
        f"python/pydantic_core/_pydantic_core.cpython-311-{machine}-linux-gnu.so",
        "python/pydantic_core-2.50.4.dist-info/WHEEL",
        "python/pydantic/__pycache__/main.cpython-311.pyc",
    ]


def test_function_zips_hold_the_handler_and_the_domain_package_only(
    built: tuple[Path, dict[str, Any]],
) -> None:
    """GIVEN each function zip WHEN listed THEN handler.py at the root, aurora_sync/, sources + pyc only."""
    out, manifest = built
    assert "exporter" in manifest["functions"]
    assert set(manifest["functions"]) == set(layer_build.function_names())
    for function in manifest["functions"]:
        names = _names(out / f"{function}.zip")
        assert "handler.py" in names
        assert ("__pycache__/handler.cpython-312.pyc" in names) == bool(manifest["bytecode"])
        assert "aurora_sync/__init__.py" in names
        roots = {PurePosixPath(n).parts[0] for n in names}
        assert roots <= {"handler.py", "aurora_sync", "__pycache__"}, roots
        assert all(n.endswith((".py", ".cpython-312.pyc", "py.typed")) for n in names)


def test_size_stays_under_the_budget_and_the_check_can_fail(
    built: tuple[Path, dict[str, Any]], target: layer_build.Target
) -> None:
    """GIVEN the build WHEN sizes are checked THEN layer + function fits; a budget below it raises."""
    _, manifest = built
    worst = manifest["largest_deployment_unzipped_bytes"]
    assert worst <= target.size_budget_mib * layer_build.MIB < layer_build.LAMBDA_UNZIPPED_LIMIT
    layer_build.check_budget(manifest, target)
    too_small = dataclasses.replace(target, size_budget_mib=worst // layer_build.MIB)
    with pytest.raises(layer_build.BudgetExceeded, match="over the budget"):
        layer_build.check_budget(manifest, too_small)


@needs_target_python
def test_each_handler_imports_from_the_artifacts_alone(
    built: tuple[Path, dict[str, Any]], target: layer_build.Target, tmp_path: Path
) -> None:
    """GIVEN the zips unpacked like Lambda does WHEN a fresh -I -S interpreter imports each handler
    THEN it imports, every third-party module the domain package uses imports, and nothing comes from
    outside the function, the layer, the runtime SDK stand-in and the standard library."""
    out, manifest = built
    standin = layer_probe.runtime_standin(target)
    modules = layer_probe.third_party_imports()
    assert {"snowflake", "pg8000", "hvac", "boto3", "botocore", "pydantic"} <= {
        m.split(".")[0] for m in modules
    }
    for function in manifest["functions"]:
        deployment = layer_probe.unpack(function, out, tmp_path, standin)
        result = layer_probe.probe(deployment, target, modules)
        assert result["outside"] == []
        assert {m: r for m, r in result["lazy"].items() if r != "ok"} == {}
        assert result["modules"] > 500  # Powertools, pydantic and the Tracer's patches really loaded


@needs_target_python
def test_without_the_runtime_sdk_the_handler_does_not_import(
    built: tuple[Path, dict[str, Any]], target: layer_build.Target, tmp_path: Path
) -> None:
    """GIVEN an empty directory in place of the runtime's SDK WHEN the probe imports the handler
    THEN it fails (Powertools needs jmespath, which only the runtime ships): the probe sees only what it
    is given, never this virtualenv."""
    out, _ = built
    empty = tmp_path / "no-runtime"
    empty.mkdir()
    deployment = layer_probe.unpack("exporter", out, tmp_path, empty)
    with pytest.raises(layer_build.BuildError, match=r"No module named '(jmespath|boto3|botocore)'"):
        layer_probe.probe(deployment, target, [])


def test_lock_lines_must_be_exact_pins(tmp_path: Path) -> None:
    """GIVEN a lock with a range WHEN read THEN the build refuses it, naming the line."""
    lock = tmp_path / "requirements.lock"
    lock.write_text("# comment\npydantic==2.14.3\nhvac>=2\n")
    with pytest.raises(layer_build.BuildError, match=r"requirements.lock:3"):
        layer_build.read_lock(lock)
    lock.write_text("PyJWT==2.15.1  # trailing comment\n")
    assert layer_build.read_lock(lock) == [layer_build.Pin("pyjwt", "2.15.1")]
