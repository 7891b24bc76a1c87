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
    extras = project["optional-dependencies"]
    assert set(extras) == {"lab", "dev"}, "environment.yml mirrors the runtime, lab and dev lists"
    wanted = {_norm(r) for r in project["dependencies"] + extras["lab"] + extras["dev"]}
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
    assert "tensorflow>=2.20" in deps and "keras>=3.13" in deps


def test_runtime_needs_no_lab():
    """Colab brings its own kernel stack: the runtime list must not ask for one."""
    project = _pyproject()["project"]
    names = {re.split(r"[<>=!~ ]", r)[0].lower() for r in project["dependencies"]}
    assert not names & {"jupyterlab", "ipykernel", "notebook", "jupyter_client", "jupyter-client"}
    assert {"jupyterlab", "ipykernel"} <= {re.split(r"[<>=!~ ]", r)[0].lower()
                                           for r in project["optional-dependencies"]["lab"]}
    assert '".[dev,lab]"' in (ROOT / "Makefile").read_text()


def test_lower_bounds_admit_the_colab_runtime():
    """Every runtime requirement admits the version pinned in the Colab-runtime job."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (ROOT / ".ci" / "colab" / "runtime.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            pins[canonicalize_name(name)] = version
    not_on_colab = {"elpv-dataset"}  # Colab lacks it: the lesson's Colab cell installs it
    for line in _pyproject()["project"]["dependencies"]:
        req = Requirement(line.split("#")[0])
        if canonicalize_name(req.name) in not_on_colab:
            assert canonicalize_name(req.name) not in pins, f"{req.name} is on Colab now"
            continue
        assert canonicalize_name(req.name) in pins, f"{req.name} is not pinned in runtime.txt"
        assert req.specifier.contains(pins[canonicalize_name(req.name)]), (req, pins[req.name])


def test_stand_ins_listed_once():
    """The package installs its stand-ins itself (Colab): its list is pyproject's."""
    from tlcourse import install

    listed = _pyproject()["tool"]["tlcourse"]["no-deps"]
    assert [f"{k}=={v}" for k, v in install.NO_DEPS.items()] == listed
