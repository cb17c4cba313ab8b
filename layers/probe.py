"""Import a handler from the built artifacts alone, in a fresh interpreter, as Lambda would on a cold start.

    python -m layers.probe [--out build]     # after `make package`: import every handler, print times

What "alone" means here, and why:
- The function zip and the layer zip are unzipped into a scratch directory laid out like Lambda's
  (`task/` = /var/task, `opt/python` = /opt/python) and put first on sys.path in that order.
- The interpreter is one of the runtime's version (layers.build.find_target_python: python3.12 on PATH,
  or $AURORA_SYNC_TARGET_PYTHON), never this virtualenv's: the layer's native wheels are built for it.
  Where there is none, the probe says so and imports nothing (the wheel and ABI tags of everything in
  the artifacts are still checked by the build). It runs with `-I -S`: no site-packages, no user
  site, no PYTHON* variables, no current directory; only its standard library besides what we add.
- The layer leaves out the SDK the runtime ships (layers.build.RUNTIME_PROVIDED), so a stand-in for
  /var/runtime comes last: those same packages at requirements.lock's versions, unpacked from the same
  wheel cache. The real runtime's boto3 may be newer; the lock's version is the one every test ran.
- Lambda's own variables are set (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, ...), so Powertools behaves
  as in Lambda: the Tracer is enabled and patches boto3/requests at import, which a cold start pays.
- After the import, every loaded module must come from those four places (stdlib, task, layer,
  stand-in), and every third-party module the domain package imports anywhere, lazily included, must
  import too: a missing wheel fails here, not on the first scheduled run.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layers.build import (
    CACHE_ENV,
    DEFAULT_CACHE,
    DEFAULT_OUT,
    DOMAIN_PACKAGE,
    LAMBDAS,
    LOCK,
    BuildError,
    Target,
    WheelCache,
    compile_tree,
    find_target_python,
    read_lock,
    runtime_pins,
    unpack_wheels,
)

# Runs in the fresh interpreter: argv[1] is a JSON spec; prints one JSON line.
CHILD = r"""
import importlib, json, os, sys, time
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["path"]
started = time.perf_counter()
import handler
import_s = time.perf_counter() - started
assert callable(handler.handler), "handler.handler is not callable"
lazy = {}
for name in spec["modules"]:
    try:
        importlib.import_module(name)
        lazy[name] = "ok"
    except Exception as exc:
        lazy[name] = f"{type(exc).__name__}: {exc}"
outside = []
if spec["check"]:
    import sysconfig
    roots = [os.path.realpath(p) + os.sep for p in spec["path"]]
    roots += [os.path.realpath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib")]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and not os.path.realpath(file).startswith(tuple(roots)):
            outside.append(f"{name} ({file})")
result = {"import_s": import_s, "lazy": lazy, "outside": sorted(outside), "modules": len(sys.modules)}
print(json.dumps(result))
"""

LAMBDA_ENV = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_{runtime}",
    "AWS_LAMBDA_FUNCTION_NAME": "aurora-snowflake-sync-{function}",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "{task}",
    "LAMBDA_RUNTIME_DIR": "{runtime_dir}",
    "_HANDLER": "handler.handler",
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
}


@dataclass(frozen=True)
class Deployment:
    """One function unpacked like Lambda unpacks it; `path` is its sys.path head, in Lambda's order."""

    function: str
    task: Path
    layer: Path
    runtime: Path

    @property
    def path(self) -> list[str]:
        return [str(self.task), str(self.layer), str(self.runtime)]


def extract(zip_path: Path, dest: Path) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(dest)


def target_python(target: Target) -> Path:
    """The interpreter the probe runs: the target's version, or a BuildError saying how to get one."""
    python = find_target_python(target)
    if python is None:
        raise BuildError(
            f"no {target.runtime} interpreter here (python{target.python_version} on PATH or "
            f"$AURORA_SYNC_TARGET_PYTHON): the artifacts cannot be imported as the runtime would"
        )
    return python


def runtime_standin(target: Target, cache_root: Path | None = None, lock: Path = LOCK) -> Path:
    """The SDK the runtime provides, at the lock's versions, unpacked once into the cache."""
    root = cache_root or Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    pins = runtime_pins(read_lock(lock))
    key = hashlib.sha256(json.dumps([p.requirement for p in pins]).encode()).hexdigest()[:16]
    dest = root / f"runtime-standin-cp{target.python_tag}-{target.architecture}-{key}"
    if dest.is_dir():
        return dest
    python = target_python(target)
    wheels = WheelCache(root, target).wheels(pins)
    staging = Path(tempfile.mkdtemp(prefix="standin-", dir=root))
    unpack_wheels(wheels, staging)
    compile_tree(staging, "/var/runtime", python)  # the runtime's own SDK comes byte-compiled too
    try:
        staging.rename(dest)
    except OSError:  # another process won the race: theirs is identical
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def unpack(function: str, artifacts: Path, workdir: Path, runtime: Path) -> Deployment:
    task, opt = workdir / function / "task", workdir / function / "opt"
    extract(artifacts / f"{function}.zip", task)
    extract(artifacts / "layer.zip", opt)
    return Deployment(function, task, opt / "python", runtime)


def third_party_imports(package: Path = LAMBDAS / DOMAIN_PACKAGE) -> list[str]:
    """Every non-stdlib module the domain package imports, at module level or inside functions."""
    names: set[str] = set()
    for source in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    own = {DOMAIN_PACKAGE, "__future__"}
    return sorted(n for n in names if n.split(".")[0] not in sys.stdlib_module_names | own)


def lambda_env(deployment: Deployment, target: Target) -> dict[str, str]:
    values = {
        "runtime": target.runtime,
        "function": deployment.function,
        "task": str(deployment.task),
        "runtime_dir": str(deployment.runtime),
    }
    env = {k: v.format(**values) for k, v in LAMBDA_ENV.items()}
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    return env


def fresh_python(args: list[str], env: dict[str, str], cwd: Path, target: Target) -> tuple[float, str]:
    """Wall time and stdout of the target's `python -I -S -B <args>`: stdlib only, no .pyc written (as
    /opt: read-only)."""
    python = target_python(target)
    started = time.perf_counter()
    done = subprocess.run(
        [str(python), "-I", "-S", "-B", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise BuildError(f"fresh interpreter failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, done.stdout


def probe(
    deployment: Deployment, target: Target, modules: list[str] | None = None, *, check: bool = True
) -> dict[str, Any]:
    """Import the handler cold; return import time, process wall time and modules loaded from elsewhere.

    `check=False` skips the where-from check after the import, so the process time is a cold start's.
    """
    spec = {
        "path": deployment.path,
        "modules": third_party_imports() if modules is None else modules,
        "check": check,
    }
    env = lambda_env(deployment, target)
    wall, out = fresh_python(["-c", CHILD, json.dumps(spec)], env, deployment.task, target)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def baseline_wall(deployment: Deployment, target: Target) -> float:
    """The same fresh interpreter doing nothing: what every cold start pays before our code."""
    wall, _ = fresh_python(["-c", "pass"], lambda_env(deployment, target), deployment.task, target)
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="artifacts directory (default: build/)")
    args = parser.parse_args(argv)
    manifest = json.loads((args.out / "manifest.json").read_text())
    target = Target.load(architecture=manifest["architecture"])
    host = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    if target.architecture != host:
        print(
            f"layers.probe: {target.architecture} artifacts cannot be imported on this {host} machine; "
            f"the test suite checks a {host} build of the same tree (tests/infra/test_layer_build.py)"
        )
        return 0
    if find_target_python(target) is None:
        print(
            f"layers.probe: no {target.runtime} interpreter here (python{target.python_version} on PATH or "
            f"$AURORA_SYNC_TARGET_PYTHON), so the handlers were NOT imported from the artifacts; the build "
            f"checked every wheel, extension and .pyc in them against {target.runtime}"
        )
        return 0
    standin = runtime_standin(target)
    failed = False
    with tempfile.TemporaryDirectory(prefix="probe-") as scratch:
        for function in manifest["functions"]:
            result = probe(unpack(function, args.out, Path(scratch), standin), target)
            bad = {k: v for k, v in result["lazy"].items() if v != "ok"}
            failed |= bool(bad or result["outside"])
            print(
                f"{function}: import handler {result['import_s'] * 1000:.0f} ms, "
                f"process {result['wall_s'] * 1000:.0f} ms, "
                f"{result['modules']} modules; lazy imports {bad or 'ok'}; "
                f"from outside the artifacts: {result['outside'] or 'none'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
