"""The torch-free reader of legacy PyTorch files: it reads the real weights and refuses code."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

from tlcourse import assets, torchfile


@pytest.fixture(scope="module")
def pth_path():
    try:
        return assets.OFFLINE["efficientnet_lite0"].locate()
    except assets.AssetUnavailable as exc:
        pytest.skip(str(exc))


class _CallsSystem:
    """Pickles to "call os.system(command)" when loaded: what a malicious .pth file does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_reads_the_real_state_dict(pth_path):
    state = torchfile.load_state_dict(pth_path)
    assert isinstance(state, collections.OrderedDict)
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_conv_stem.weight"].dtype == np.float32
    assert state["_blocks.1._depthwise_conv.weight"].shape == (96, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    floats = sum(v.size for v in state.values() if v.dtype == np.float32)
    assert floats == 4_694_024  # EfficientNet-Lite0's parameter count
    # real trained values, not zeros or a fresh initialisation
    assert np.all(state["_bn1.running_var"] > 0)
    assert 0.1 < float(np.abs(state["_conv_stem.weight"]).mean()) < 10


def test_refuses_a_pickle_that_calls_os_system(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_CallsSystem(f"touch {marker}"), protocol=2)
    with pytest.raises(torchfile.RefusedPickle, match="system"):
        torchfile.restricted_loads(payload)
    assert not marker.exists()
    # the same payload inside a file that otherwise looks like a legacy .pth
    bad = tmp_path / "bad.pth"
    with open(bad, "wb") as fh:
        for part in (torchfile.LEGACY_MAGIC, torchfile.LEGACY_PROTOCOL, {"little_endian": True}):
            pickle.dump(part, fh, protocol=2)
        fh.write(payload)
    with pytest.raises(torchfile.RefusedPickle):
        torchfile.load_state_dict(bad)
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [
    ("builtins", "eval"), ("builtins", "getattr"), ("subprocess", "Popen"),
    ("torch", "HalfStorage"), ("torch._utils", "_rebuild_parameter"),
])
def test_refuses_every_other_name(module, name):
    payload = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."
    with pytest.raises(torchfile.RefusedPickle, match=f"{module}.{name}"):
        torchfile.restricted_loads(payload)


def test_refuses_to_change_an_allowed_storage_type():
    before = dict(torchfile.ALLOWED)
    payload = b"\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypeX\x03\x00\x00\x00BADsb."
    with pytest.raises(torchfile.RefusedPickle, match="FloatStorage"):
        torchfile.restricted_loads(payload)
    assert torchfile.ALLOWED == before and torchfile.ALLOWED[("torch", "FloatStorage")].dtype == np.float32


def test_plain_values_still_load():
    value = collections.OrderedDict(a=[1, 2.5, "x"], b={"k": (1, 2)})
    assert torchfile.restricted_loads(pickle.dumps(value, protocol=2)) == value


def test_wrong_files_get_clear_errors(pth_path, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        torchfile.load_state_dict(tmp_path / "missing.pth")
    zipped = tmp_path / "new_format.pth"
    zipped.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ValueError, match="zip-format"):
        torchfile.load_state_dict(zipped)
    other = tmp_path / "other.pth"
    other.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(ValueError, match="magic"):
        torchfile.load_state_dict(other)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(pth_path.read_bytes()[:-1000])
    with pytest.raises(pickle.UnpicklingError, match="truncated"):
        torchfile.load_state_dict(truncated)
