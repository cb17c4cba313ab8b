"""Reproducible build of the Lambda artifacts: build/layer.zip and build/<function>.zip.

    python -m layers.build              # or `make package`; wheels cached in ~/.cache/aurora-sync-layer
    python -m layers.build --out DIR    # elsewhere (the tests build into a temporary directory)

Why it is built this way:
- One target, layers/target.json (runtime, architecture, glibc ceiling, size budget), read here and by
  Terraform, so the wheels and the function's `architectures` can never disagree.
- The layer is requirements.lock minus the AWS SDK the runtime already ships (RUNTIME_PROVIDED). Its
  other dependencies (urllib3, python-dateutil, six) stay in the layer at the lock's versions: the layer
  comes before the runtime's own copies on sys.path, so what the tests ran is what Lambda runs.
- Only wheels, for the target (`pip download --only-binary=:all: --python-version X.Y --platform ...`),
  with the glibc of the runtime's OS as ceiling (python3.12 runs on Amazon Linux 2023: glibc 2.34); a
  manylinux_2_35 wheel would install on a newer machine and fail there, so it is never accepted. The
  build interpreter's own version does not matter: after unpacking, every extension module, dist-info
  tag and .pyc in the artifacts is checked against the target (incompatible_members).
- Wheels are unpacked here, not by `pip install --target`: a wheel is a zip, and unpacking it ourselves
  writes nothing that depends on the machine or the time (no console scripts with this machine's
  shebang, no RECORD rewrite); .pyc from wheels or the working tree never enter.
- Every module is byte-compiled here (compile_tree) by the target's interpreter (python3.12 on PATH, or
  $AURORA_SYNC_TARGET_PYTHON): Lambda cannot write .pyc into /opt or /var/task, so without them each
  cold start compiles everything it imports (measured: twice the import time). A machine without that
  interpreter builds artifacts without .pyc (correct, slower cold starts; manifest "bytecode": null)
  and says so; CI's ubuntu-24.04 runners have python3.12.
- Zips are byte-reproducible: sorted entries, one fixed timestamp, fixed permissions, one compression
  level, hash-based .pyc. Two builds from the same tree and cache are byte-identical.
- The size check fails the build when the unzipped layer plus the largest function exceeds the budget in
  target.json, long before Lambda's 250 MB limit would fail a deploy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
TARGET_JSON = ROOT / "layers" / "target.json"
LOCK = ROOT / "requirements.lock"
LAMBDAS = ROOT / "lambdas"
DOMAIN_PACKAGE = "aurora_sync"
DEFAULT_OUT = ROOT / "build"
CACHE_ENV = "AURORA_SYNC_LAYER_CACHE"
DEFAULT_CACHE = Path.home() / ".cache" / "aurora-sync-layer"

# The AWS SDK for Python and the packages only it needs: every Lambda Python runtime ships them
# (in /var/runtime), so packaging them again only adds ~25 MB and a second, untested SDK version.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath"})

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record: no build time leaks into artifacts
ZIP_FILE_MODE = 0o100644 << 16  # regular file, rw-r--r-- (shared objects need no exec bit to load)
ZIP_LEVEL = 9
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # function + layers, unzipped: Lambda's hard limit (250 MiB)
MIB = 1024 * 1024
TARGET_PYTHON_ENV = "AURORA_SYNC_TARGET_PYTHON"  # an interpreter of the target's version (.pyc, probe)
ARCH_TAGS = {"x86_64": "x86_64", "arm64": "aarch64"}
OLDEST_MANYLINUX = 5  # manylinux_2_5 == manylinux1, the oldest policy there is
LEGACY_MANYLINUX = ("manylinux2014", "manylinux2010", "manylinux1")  # aliases of 2_17, 2_12, 2_5


class BuildError(Exception):
    """The build cannot produce correct artifacts; the message says what to change."""


class BudgetExceeded(BuildError):
    """The unzipped layer plus function grew past size_budget_mib in layers/target.json."""


@dataclass(frozen=True)
class Target:
    runtime: str  # e.g. python3.12
    architecture: str  # Lambda's name: x86_64 or arm64
    glibc: str  # newest glibc of the runtime's OS, e.g. 2.34 for Amazon Linux 2023
    size_budget_mib: int

    @classmethod
    def load(cls, path: Path = TARGET_JSON, architecture: str | None = None) -> Target:
        raw = json.loads(path.read_text())
        target = cls(
            runtime=raw["runtime"],
            architecture=architecture or raw["architecture"],
            glibc=raw["glibc"],
            size_budget_mib=int(raw["size_budget_mib"]),
        )
        if target.architecture not in ARCH_TAGS:
            raise BuildError(f"architecture must be one of {sorted(ARCH_TAGS)}, not {target.architecture!r}")
        if not re.fullmatch(r"python3\.\d+", target.runtime) or not re.fullmatch(r"2\.\d+", target.glibc):
            raise BuildError(
                f"runtime must be python3.N and glibc 2.N, not {target.runtime!r}, {target.glibc!r}"
            )
        return target

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @property
    def python_tag(self) -> str:
        """312 for python3.12: wheel tags (cp312) and extension suffixes (cpython-312-...)."""
        return self.python_version.replace(".", "")

    @property
    def cache_tag(self) -> str:
        """What the target interpreter names its .pyc files: cpython-312."""
        return f"cpython-{self.python_tag}"

    @property
    def platforms(self) -> list[str]:
        """Every manylinux tag the runtime's glibc can load, spelled out: pip matches them literally."""
        machine = ARCH_TAGS[self.architecture]
        newest = int(self.glibc.split(".")[1])
        tags = [f"manylinux_2_{minor}_{machine}" for minor in range(newest, OLDEST_MANYLINUX - 1, -1)]
        return [*tags, *(f"{legacy}_{machine}" for legacy in LEGACY_MANYLINUX)]

    def supports(self, tag: Tag) -> bool:
        """Would pip on the runtime install a wheel with this tag? (cpNN, abi3 of older CPythons, pure)."""
        ours = int(self.python_tag)
        if tag.platform != "any" and tag.platform not in self.platforms:
            return False
        if tag.abi == "none":
            return tag.interpreter in {"py3", f"py{ours}", f"cp{ours}"}
        if tag.abi == "abi3":
            return tag.interpreter.startswith("cp") and int(tag.interpreter[2:]) <= ours
        return tag.interpreter == tag.abi == f"cp{ours}"


@dataclass(frozen=True)
class Pin:
    name: str  # canonical (PEP 503) name
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


def read_lock(path: Path = LOCK) -> list[Pin]:
    """Every `name==version` line of a pip-freeze style lock; anything else there is an error."""
    pins = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not version or any(c in version for c in ";[ "):
            raise BuildError(f"{path.name}:{number}: expected an exact `name==version` pin, got {raw!r}")
        pins.append(Pin(str(canonicalize_name(name)), version))
    return pins


def layer_pins(pins: Iterable[Pin]) -> list[Pin]:
    return sorted((p for p in pins if p.name not in RUNTIME_PROVIDED), key=lambda p: p.name)


def runtime_pins(pins: Iterable[Pin]) -> list[Pin]:
    return sorted((p for p in pins if p.name in RUNTIME_PROVIDED), key=lambda p: p.name)


# --------------------------------------------------------------------------------------------------
# Wheels: downloaded once per target into a cache outside the repository
# --------------------------------------------------------------------------------------------------


class WheelCache:
    """Wheels for one target in `<root>/<target key>/`; `pip download` runs only for missing pins."""

    def __init__(self, root: Path, target: Target) -> None:
        self.target = target
        self.dir = root / f"wheels-cp{target.python_tag}-{target.architecture}"

    def find(self, pin: Pin) -> Path | None:
        if not self.dir.is_dir():
            return None
        for path in sorted(self.dir.glob("*.whl")):
            name, version, _build, tags = parse_wheel_filename(path.name)
            if name == pin.name and version == Version(pin.version) and any(map(self.target.supports, tags)):
                return path
        return None

    def download(self, pins: list[Pin]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        platform_args = [arg for tag in self.target.platforms for arg in ("--platform", tag)]
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            self.target.python_version,
            *platform_args,
            "--dest",
            str(self.dir),
            *(p.requirement for p in pins),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if not line.startswith("WARNING")]
            raise BuildError(
                f"pip download failed for {self.target.architecture} (glibc <= {self.target.glibc}): "
                + "\n".join(errors[-15:])
            )

    def wheels(self, pins: list[Pin]) -> list[Path]:
        """The cached wheel of every pin, downloading the missing ones first."""
        missing = [p for p in pins if self.find(p) is None]
        if missing:
            self.download(missing)
        found = {p: self.find(p) for p in pins}
        absent = [p.requirement for p, path in found.items() if path is None]
        if absent:
            raise BuildError(
                f"no wheel for {', '.join(absent)} on {self.target.architecture} with glibc <= "
                f"{self.target.glibc}; an sdist would need compiling for Lambda: pick another version"
            )
        return [path for path in found.values() if path is not None]


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise BuildError(f"refusing wheel member outside the target directory: {name!r}")
    return path


def _install_path(member: PurePosixPath) -> PurePosixPath | None:
    """Where a wheel member goes under the target directory, or None when it is not installed.

    `<dist>.data/purelib|platlib/` go to the root as pip would; `.data/scripts|headers|data` are console
    scripts and C headers, which a layer never uses (and whose shebangs would name this machine).
    """
    if "__pycache__" in member.parts or member.suffix == ".pyc":
        return None
    if not member.parts[0].endswith(".data"):
        return member
    if len(member.parts) > 2 and member.parts[1] in {"purelib", "platlib"}:
        return PurePosixPath(*member.parts[2:])
    return None


def unpack_wheels(wheels: Iterable[Path], dest: Path) -> None:
    """Install wheels by unzipping them into `dest` (site-packages layout, no metadata rewrite)."""
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                target = _install_path(_safe_member(info.filename))
                if info.is_dir() or target is None:
                    continue
                out = dest.joinpath(*target.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, out.open("wb") as sink:
                    shutil.copyfileobj(source, sink)


# --------------------------------------------------------------------------------------------------
# Zips
# --------------------------------------------------------------------------------------------------


def _files_under(directory: Path) -> Iterator[Path]:
    for path in directory.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def write_zip(entries: dict[str, Path], zip_path: Path) -> None:
    """A zip of `arcname -> file`, byte-identical for identical inputs (see the module docstring)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as archive:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
            info.external_attr = ZIP_FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode above is honoured whatever builds it
            archive.writestr(info, entries[arcname].read_bytes(), compresslevel=ZIP_LEVEL)
    tmp.replace(zip_path)


def tree_entries(directory: Path, prefix: str = "") -> dict[str, Path]:
    """Every file of a staging directory (which holds only what this build put there, .pyc included)."""
    return {prefix + p.relative_to(directory).as_posix(): p for p in directory.rglob("*") if p.is_file()}


def _cache_tag_of(python: str) -> str | None:
    try:
        done = subprocess.run(
            [python, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_target_python(target: Target) -> Path | None:
    """An interpreter of the target's version: $AURORA_SYNC_TARGET_PYTHON, else python3.N on PATH.

    Each candidate is run once to ask its cache tag, so a pyenv shim for a version that is not
    selected, or a wrong minor version, is not taken. None when there is none (an explicitly named
    one that is not the target's version is an error).
    """
    named = os.environ.get(TARGET_PYTHON_ENV)
    if named:
        tag = _cache_tag_of(named)
        if tag != target.cache_tag:
            raise BuildError(
                f"${TARGET_PYTHON_ENV}={named} is {tag or 'not runnable'}, not {target.cache_tag}"
            )
        return Path(named)
    found = shutil.which(f"python{target.python_version}")
    if found and _cache_tag_of(found) == target.cache_tag:
        return Path(found)
    return None


# Runs in the target interpreter: argv = [deployed_at, directory]; compiles every .py below directory.
_COMPILE = """
import importlib.util, pathlib, py_compile, sys
deployed_at, directory = sys.argv[1], pathlib.Path(sys.argv[2])
for source in sorted(directory.rglob("*.py")):
    py_compile.compile(
        str(source),
        cfile=importlib.util.cache_from_source(str(source)),
        dfile=f"{deployed_at}/{source.relative_to(directory).as_posix()}",
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
"""


def compile_tree(directory: Path, deployed_at: str, python: Path) -> None:
    """Byte-compile every .py with the target's interpreter, as the runtime would on each cold start.

    Lambda's /opt and /var/task are read-only, so without shipped .pyc every cold start compiles every
    module it imports (measured: importing the exporter handler takes about twice as long). The .pyc
    are UNCHECKED_HASH: no source mtime inside (reproducible) and no validation on import (the
    artifact is immutable). `deployed_at` is the directory Lambda unpacks to, so tracebacks name the
    real paths, not this machine's staging directory.
    """
    done = subprocess.run(
        [str(python), "-I", "-c", _COMPILE, deployed_at, str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BuildError(f"byte-compiling {directory} with {python} failed:\n{done.stderr[-3000:]}")


_EXTENSION = re.compile(r"\.cpython-(\d+)-(\w+?)-linux-gnu\.so$")


def incompatible_members(zip_path: Path, target: Target) -> list[str]:
    """What in an artifact the target runtime could not load, each with the reason (empty: all fine).

    Checks the artifact itself rather than the wheels it was built from: every installed wheel's tags
    (`*.dist-info/WHEEL`, at least one the target supports), every extension module's ABI suffix
    (cpython-<N>-<machine>; abi3 and plain .so carry their wheel's tags), every .pyc's cache tag.
    """
    machine = ARCH_TAGS[target.architecture]
    problems = []
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            if name.endswith(".dist-info/WHEEL"):
                lines = archive.read(name).decode().splitlines()
                tags = [
                    Tag(*line.split(":", 1)[1].strip().split("-"))
                    for line in lines
                    if line.startswith("Tag:")
                ]
                if not any(map(target.supports, tags)):
                    problems.append(f"{name}: tags {[str(t) for t in tags]} not loadable by {target.runtime}")
            elif match := _EXTENSION.search(name):
                if match.groups() != (target.python_tag, machine):
                    problems.append(
                        f"{name}: built for cpython-{match[1]}-{match[2]}, not {target.cache_tag}-{machine}"
                    )
            elif name.endswith(".pyc") and not name.endswith(f".{target.cache_tag}.pyc"):
                problems.append(f"{name}: bytecode of another interpreter than {target.cache_tag}")
    return problems


def function_names(lambdas: Path = LAMBDAS) -> list[str]:
    """Every lambdas/<name>/handler.py is a function; the domain package is not."""
    return sorted(p.parent.name for p in lambdas.glob("*/handler.py") if p.parent.name != DOMAIN_PACKAGE)


def function_entries(name: str, lambdas: Path = LAMBDAS) -> dict[str, Path]:
    """handler.py at the zip root (Lambda handler `handler.handler`) plus the domain package's sources.

    Only *.py and py.typed: caches, editor files or test output lying in the working tree never ship.
    """
    entries = {"handler.py": lambdas / name / "handler.py"}
    package = lambdas / DOMAIN_PACKAGE
    for path in _files_under(package):
        if path.suffix == ".py" or path.name == "py.typed":
            entries[f"{DOMAIN_PACKAGE}/{path.relative_to(package).as_posix()}"] = path
    return entries


# --------------------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def unzipped_bytes(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as archive:
        return sum(info.file_size for info in archive.infolist())


def describe(zip_path: Path) -> dict[str, Any]:
    return {
        "path": zip_path.name,
        "sha256": sha256(zip_path),
        "zipped_bytes": zip_path.stat().st_size,
        "unzipped_bytes": unzipped_bytes(zip_path),
    }


def check_budget(manifest: dict[str, Any], target: Target) -> None:
    worst = manifest["largest_deployment_unzipped_bytes"]
    budget = target.size_budget_mib * MIB
    if worst > budget:
        raise BudgetExceeded(
            f"layer + largest function unzipped is {worst / MIB:.1f} MiB, over the budget of "
            f"{target.size_budget_mib} MiB (layers/target.json size_budget_mib; Lambda's limit is 250 MiB): "
            "drop a dependency or raise the budget on purpose"
        )


def build(
    out: Path = DEFAULT_OUT,
    target: Target | None = None,
    cache_root: Path | None = None,
    lock: Path = LOCK,
    lambdas: Path = LAMBDAS,
) -> dict[str, Any]:
    """Build layer.zip and one zip per function into `out`; write and return out/manifest.json."""
    target = target or Target.load()
    python = find_target_python(target)
    cache = WheelCache(cache_root or Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE), target)
    pins = layer_pins(read_lock(lock))
    wheels = cache.wheels(pins)
    functions = function_names(lambdas)
    if not functions:
        raise BuildError(f"no function found: expected {lambdas}/<name>/handler.py")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="layer-") as staging:
        site = Path(staging) / "python"
        unpack_wheels(wheels, site)
        if python:
            compile_tree(site, "/opt/python", python)
        write_zip(tree_entries(site, prefix="python/"), out / "layer.zip")
    for name in functions:
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as staging:
            task = Path(staging)
            for arcname, source in function_entries(name, lambdas).items():
                (task / arcname).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, task / arcname)
            if python:
                compile_tree(task, "/var/task", python)
            write_zip(tree_entries(task), out / f"{name}.zip")
    problems = [
        p for name in ["layer", *functions] for p in incompatible_members(out / f"{name}.zip", target)
    ]
    if problems:
        raise BuildError(
            f"the artifacts hold what {target.runtime} cannot load:\n" + "\n".join(problems[:20])
        )
    layer = describe(out / "layer.zip")
    described = {name: describe(out / f"{name}.zip") for name in functions}
    manifest: dict[str, Any] = {
        "runtime": target.runtime,
        "architecture": target.architecture,
        "bytecode": target.cache_tag if python else None,
        "handler": "handler.handler",
        "layer": layer,
        "functions": described,
        "wheels": {path.name: sha256(path) for path in wheels},
        "excluded_runtime_provided": sorted(RUNTIME_PROVIDED),
        "largest_deployment_unzipped_bytes": layer["unzipped_bytes"]
        + max(f["unzipped_bytes"] for f in described.values()),
        "size_budget_mib": target.size_budget_mib,
        "lambda_limit_bytes": LAMBDA_UNZIPPED_LIMIT,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    check_budget(manifest, target)
    return manifest


def summary(manifest: dict[str, Any]) -> str:
    rows = [("layer.zip", manifest["layer"])] + [(f"{n}.zip", f) for n, f in manifest["functions"].items()]
    lines = [f"{'artifact':<18} {'zipped MiB':>10} {'unzipped MiB':>12}  sha256"]
    for name, item in rows:
        lines.append(
            f"{name:<18} {item['zipped_bytes'] / MIB:>10.2f} {item['unzipped_bytes'] / MIB:>12.2f}  "
            f"{item['sha256'][:16]}"
        )
    worst = manifest["largest_deployment_unzipped_bytes"]
    lines.append(
        f"layer + largest function, unzipped: {worst / MIB:.1f} MiB "
        f"(budget {manifest['size_budget_mib']} MiB, Lambda limit 250 MiB) "
        f"[{manifest['runtime']}, {manifest['architecture']}]"
    )
    if manifest["bytecode"] is None:
        lines.append(
            f"WARNING: no .pyc shipped (no {manifest['runtime']} interpreter here: put one on PATH or set "
            f"${TARGET_PYTHON_ENV}); correct, but each cold start compiles what it imports"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: build/)")
    parser.add_argument(
        "--cache", type=Path, default=None, help=f"wheel cache (default: ${CACHE_ENV} or ~/.cache)"
    )
    parser.add_argument("--architecture", choices=sorted(ARCH_TAGS), help="override layers/target.json")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.out, Target.load(architecture=args.architecture), args.cache)
    except BudgetExceeded as exc:
        print(summary(json.loads((args.out / "manifest.json").read_text())), file=sys.stderr)
        print(f"layers.build: {exc}", file=sys.stderr)
        return 1
    except BuildError as exc:
        print(f"layers.build: {exc}", file=sys.stderr)
        return 1
    print(summary(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
