"""Course-wide settings read from the environment, and the ``setup()`` call of every lesson:

* ``TLCOURSE_QUICK=1``  quick mode (tests, CI): less data, fewer epochs. Unset or ``0``: full mode.
* ``TLCOURSE_OFFLINE``  unset: try the network, fall back to offline assets (announced);
  ``1``: never touch the network; ``0``: a missing online asset is an error, no fallback.
* ``TLCOURSE_MIRROR``   a folder or URL tried before the canonical download addresses.
* ``TLCOURSE_CACHE``    the one download cache (default: the user cache folder).
* ``TLCOURSE_OUTPUT``   where lessons save what you train (default: ``tlcourse-output`` in the
  working folder).

:func:`integer` is the check of every whole-number argument of the package.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

QUICK_ENV = "TLCOURSE_QUICK"
OFFLINE_ENV = "TLCOURSE_OFFLINE"
MIRROR_ENV = "TLCOURSE_MIRROR"
CACHE_ENV = "TLCOURSE_CACHE"
OUTPUT_ENV = "TLCOURSE_OUTPUT"

#: network modes returned by :func:`network_mode`
AUTO, OFFLINE, ONLINE = "auto", "offline", "online"


def _flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip()
    if value == "":
        return None
    if value in ("0", "1"):
        return value == "1"
    raise ValueError(f"{name}={value!r} is not understood: set it to 1 or 0, or unset it "
                     f"(e.g. `export {name}=1`).")


def integer(name: str, value, low: int = 1, high: int | None = None, example: str = "") -> int:
    """``value`` as an int when it is a whole number (not a bool) from ``low`` to ``high``, else
    ValueError naming ``name``, the range and ``example`` (the fix)."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low
            or (high is not None and value > high)):
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer of at least {low}")
        upto = f" up to {high}" if high is not None else ""
        raise ValueError(f"{name} must be {kind}{upto}{example}, got {value!r}")
    return int(value)


def quick_mode() -> bool:
    """True when ``TLCOURSE_QUICK=1`` (tests and CI); full mode otherwise."""
    return bool(_flag(QUICK_ENV))


def network_mode() -> str:
    """``"auto"`` (try online, fall back), ``"offline"`` (``TLCOURSE_OFFLINE=1``) or
    ``"online"`` (``TLCOURSE_OFFLINE=0``: no fallback, a missing asset is an error)."""
    return {None: AUTO, True: OFFLINE, False: ONLINE}[_flag(OFFLINE_ENV)]


def cache_dir() -> Path:
    """The one download cache: ``TLCOURSE_CACHE`` or the user's cache folder."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value:
        path = Path(value).expanduser()
    else:
        import pooch

        path = Path(pooch.os_cache("tlcourse"))
    # a read-only place is no error: readers use what is there, writers a per-user cache
    with contextlib.suppress(OSError):
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o755)  # a teacher's cache serves every student
    return path


_mirror_warned: set[str] = set()


def output_dir(lesson: str) -> Path:
    """The folder where ``lesson`` saves the models you train: ``TLCOURSE_OUTPUT`` (or
    ``tlcourse-output`` in the working folder) / ``lesson``, created if missing. Not the download
    cache, which a classroom's kernels share and may only be allowed to read."""
    if not isinstance(lesson, str) or not lesson.strip() or Path(lesson).name != lesson:
        raise ValueError(f"lesson must be a plain folder name such as 'lesson07', got {lesson!r}")
    path = Path(os.environ.get(OUTPUT_ENV, "").strip() or "tlcourse-output").expanduser() / lesson
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mirror_problem(value: str) -> str | None:
    from urllib.parse import urlparse

    parsed = urlparse(value)
    if parsed.scheme in ("http", "https"):
        try:
            parsed.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError as exc:
            return f"{exc}: use a port from 1 to 65535"
        if not parsed.hostname:
            return "it names no host: e.g. http://classroom-server:8000/assets"
        return None
    if "://" in value:
        return f"the scheme {parsed.scheme}:// is not supported: use a folder or an http(s) URL"
    try:
        folder = Path(value).expanduser()
    except RuntimeError as exc:
        return f"{exc}: use a full folder path"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    return None


def mirror() -> str | None:
    """The mirror folder or URL from ``TLCOURSE_MIRROR``, or None. A value that cannot work (no
    host, a bad port, an unknown ``~user``, a missing folder) is ignored, said in one line."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    if not value:
        return None
    problem = _mirror_problem(value)
    if problem is None:
        return value
    if value not in _mirror_warned:
        _mirror_warned.add(value)
        print(f"{MIRROR_ENV}={value!r} is ignored ({problem}); fix or unset it. Using the "
              "cache and the canonical addresses.", flush=True)
    return None


def pick(quick, full):
    """Return ``quick`` in quick mode and ``full`` otherwise (epochs, sample sizes...)."""
    return quick if quick_mode() else full


@dataclass
class Settings:
    """What :func:`setup` set; lessons print it and can assert on it."""

    seed: int
    quick: bool
    network: str
    cache: Path
    mirror: str | None
    versions: dict = field(default_factory=dict)
    devices: list = field(default_factory=list)

    @property
    def gpu(self) -> bool:
        """True when TensorFlow found a GPU (lessons skip CPU-only timing claims then)."""
        return any(d.startswith("GPU") for d in self.devices)

    def __str__(self) -> str:
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        mode = "QUICK (TLCOURSE_QUICK=1: small data, few epochs)" if self.quick else "full"
        net = {
            AUTO: "online if reachable, else offline assets (announced)",
            OFFLINE: "offline (TLCOURSE_OFFLINE=1: the network is never used)",
            ONLINE: "online only (TLCOURSE_OFFLINE=0: no offline fallback)",
        }[self.network]
        return "\n".join([
            f"tlcourse setup | seed {self.seed} | mode: {mode}", f"  versions: {versions}",
            f"  compute:  {', '.join(self.devices)}", f"  network:  {net}",
            f"  cache:    {self.cache}" + (f" | mirror: {self.mirror}" if self.mirror else "")])


def setup(seed: int = 42, *, verbose: bool = True) -> Settings:
    """Prepare a lesson (first code cell): seeds Python, NumPy and TensorFlow
    (``keras.utils.set_random_seed``), sets the plot style, and prints the mode, network mode,
    versions and devices. A seed that is not a non-negative integer raises ValueError."""
    integer("seed", seed, 0, example=", e.g. setup(seed=42)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ start-up chatter
    quick, network = quick_mode(), network_mode()

    import keras
    import matplotlib
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    from . import plot

    plot.use_course_style()

    gpus = tf.config.list_physical_devices("GPU")
    devices = [f"GPU {tf.config.experimental.get_device_details(g).get('device_name', g.name)}"
               f" (TensorFlow uses it)" for g in gpus] or [
        f"CPU only ({os.cpu_count()} cores) - every lesson is sized for a laptop CPU"
    ]
    versions = {"python": platform.python_version(), "tensorflow": tf.__version__,
                "keras": keras.__version__, "numpy": np.__version__,
                "matplotlib": matplotlib.__version__}
    settings = Settings(seed, quick, network, cache_dir(), mirror(), versions, devices)
    if verbose:
        print(settings, file=sys.stdout)
    return settings
