"""One source of truth for dependencies: environment.yml must mirror pyproject.toml."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req.split("#")[0]).lower()


def test_environment_yml_mirrors_pyproject():
    project = _pyproject()["project"]
    wanted = {_norm(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    lines = (ROOT / "environment.yml").read_text().splitlines()
    pip_reqs = {_norm(m.group(1)) for line in lines
                if (m := re.match(r"^\s{6}- ([A-Za-z0-9_.\-]+[<>=!~][^#]*)", line))}
    assert pip_reqs == wanted, (
        f"only in pyproject.toml: {sorted(wanted - pip_reqs)}; "
        f"only in environment.yml: {sorted(pip_reqs - wanted)}")
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_no_deps_packages_are_installed_by_every_setup():
    no_deps = _pyproject()["tool"]["tlcourse"]["no-deps"]
    assert no_deps and all("==" in p for p in no_deps)
    assert "tools/no_deps.py" in (ROOT / "binder" / "postBuild").read_text()
    assert "tools/no_deps.py" in (ROOT / "Makefile").read_text()
    from tools.no_deps import no_deps as listed

    assert listed() == no_deps


def test_tensorflow_bound_means_keras_3():
    deps = _pyproject()["project"]["dependencies"]
    assert "tensorflow>=2.16" in deps and "keras>=3.3" in deps
