import subprocess
import sys
from pathlib import Path

import pytest

from tlcourse import config


def test_import_does_not_import_tensorflow():
    code = "import sys, tlcourse, tlcourse.data, tlcourse.layers, tlcourse.plot, tlcourse.text; " \
           "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(("value", "expected"), [("", False), ("0", False), ("1", True)])
def test_quick_mode(monkeypatch, value, expected):
    monkeypatch.setenv("TLCOURSE_QUICK", value)
    assert config.quick_mode() is expected
    assert config.pick("q", "f") == ("q" if expected else "f")


@pytest.mark.parametrize(("value", "expected"),
                         [(None, "auto"), ("1", "offline"), ("0", "online")])
def test_network_mode(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("TLCOURSE_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("TLCOURSE_OFFLINE", value)
    assert config.network_mode() == expected


@pytest.mark.parametrize("name", ["TLCOURSE_QUICK", "TLCOURSE_OFFLINE"])
def test_bad_flag_names_the_fix(monkeypatch, name):
    monkeypatch.setenv(name, "yes")
    with pytest.raises(ValueError, match=f"{name}='yes'.*set it to 1 or 0"):
        config.quick_mode() if name == "TLCOURSE_QUICK" else config.network_mode()


def test_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCOURSE_CACHE", str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()


def test_setup_seeds_and_reports(monkeypatch, capsys):
    monkeypatch.setenv("TLCOURSE_QUICK", "1")
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    import numpy as np

    s = config.setup(seed=7)
    first = np.random.rand(3)
    config.setup(seed=7, verbose=False)
    assert np.allclose(first, np.random.rand(3)), "setup must seed NumPy reproducibly"
    out = capsys.readouterr().out
    assert "seed 7" in out and "QUICK" in out and "offline" in out
    assert s.quick and s.network == "offline" and "tensorflow" in s.versions


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_setup_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be"):
        config.setup(seed=seed)


def test_output_dir_is_the_learners_not_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCOURSE_CACHE", str(tmp_path / "shared"))
    monkeypatch.delenv("TLCOURSE_OUTPUT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert config.output_dir("lesson07") == Path("tlcourse-output") / "lesson07"
    assert (tmp_path / "tlcourse-output" / "lesson07").is_dir()
    monkeypatch.setenv("TLCOURSE_OUTPUT", str(tmp_path / "mine"))
    assert config.output_dir("lesson05") == tmp_path / "mine" / "lesson05"
    assert not (tmp_path / "shared").exists()
    for bad in ("", "../lesson05", "a/b", None):
        with pytest.raises(ValueError, match="plain folder name"):
            config.output_dir(bad)
