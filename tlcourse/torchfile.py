"""Read a legacy-format PyTorch weights file into NumPy arrays, safely and without torch.

Unpickling can call any function a file names: :class:`RestrictedUnpickler` resolves only the
four names a plain state dict needs (:data:`ALLOWED`) and refuses the rest. The legacy layout:
pickles (magic, protocol, system info, the object, the storage keys), then per storage an
8-byte element count and its little-endian bytes.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class RefusedPickle(pickle.UnpicklingError):
    """The file names a Python object that the restricted unpickler does not allow."""


@dataclass(frozen=True)
class _StorageType:
    """Stands for ``torch.FloatStorage`` / ``torch.LongStorage`` (never callable)."""

    torch_name: str
    dtype: np.dtype

    def __setstate__(self, state):  # what a pickle's BUILD calls: no file may change a stand-in
        raise RefusedPickle(f"refused to change {self.torch_name}: a weights file may not")


@dataclass
class _Storage:
    """A storage announced in the pickle; its bytes come after the pickles."""

    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass
class _LazyTensor:
    """What ``_rebuild_tensor_v2`` returns: a view to cut from its storage once it is read."""

    storage: _Storage
    offset: int
    size: tuple
    stride: tuple

    def materialise(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise pickle.UnpicklingError(f"storage {self.storage.key} was never read")
        size, stride = tuple(self.size), tuple(self.stride)
        if len(size) != len(stride) or any(s < 0 for s in stride) or any(n < 0 for n in size):
            raise pickle.UnpicklingError(f"bad tensor layout: size {size}, stride {stride}")
        last = self.offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True) if n > 0)
        if any(n == 0 for n in size):
            return np.zeros(size, dtype=data.dtype)
        if self.offset < 0 or last >= data.size:
            raise pickle.UnpicklingError(
                f"tensor of size {size} runs past its storage ({data.size} elements)")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=size,
            strides=tuple(s * data.itemsize for s in stride), writeable=False)
        return np.array(view)  # a contiguous copy that owns its memory


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise RefusedPickle("_rebuild_tensor_v2 called on something that is not a storage")
    if not (isinstance(storage_offset, int) and isinstance(size, tuple)
            and isinstance(stride, tuple)):
        raise pickle.UnpicklingError("malformed tensor record")
    return _LazyTensor(storage, storage_offset, size, stride)


#: (module, name) -> object: the only names a file may mention
ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch", "FloatStorage"): _StorageType("torch.FloatStorage", np.dtype("<f4")),
    ("torch", "LongStorage"): _StorageType("torch.LongStorage", np.dtype("<i8")),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in :data:`ALLOWED` and refuses the rest."""

    def __init__(self, file, storages: dict | None = None):
        super().__init__(file)
        self.storages: dict[str, _Storage] = {} if storages is None else storages

    def find_class(self, module, name):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(
                f"refused to load {module}.{name}: a weights file may only mention "
                + ", ".join(f"{m}.{n}" for m, n in ALLOWED)
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise RefusedPickle(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType):
            raise RefusedPickle(f"unexpected storage type {storage_type!r:.80}")
        if view_metadata is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if not (isinstance(key, str) and isinstance(numel, int) and numel >= 0):
            raise pickle.UnpicklingError("malformed storage record")
        if key not in self.storages:
            self.storages[key] = _Storage(key, storage_type.dtype, numel)
        return self.storages[key]


def restricted_loads(data: bytes):
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (for plain values and tests)."""
    return RestrictedUnpickler(io.BytesIO(data)).load()


def load_state_dict(path) -> collections.OrderedDict:
    """A legacy-format PyTorch state dict as an OrderedDict of NumPy arrays, read without torch
    and without running code from the file. ValueError for another format (e.g. the zip format
    of ``torch.save`` since PyTorch 1.6), :class:`RefusedPickle` for a file naming other objects."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or Path), got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist: pass the path of a .pth file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if fh.read(4) == b"PK\x03\x04":
            raise ValueError(f"{path} is a zip-format PyTorch file; only the legacy format "
                             "is supported (re-save it with _use_new_zipfile_serialization=False)")
        fh.seek(0)
        storages: dict[str, _Storage] = {}
        try:
            magic = RestrictedUnpickler(fh).load()
        except RefusedPickle:
            raise
        except Exception as exc:  # not a pickle at all
            raise ValueError(f"{path} is not a legacy PyTorch file ({exc})") from exc
        if magic != LEGACY_MAGIC:
            raise ValueError(f"{path} is not a legacy PyTorch file (wrong magic number)")
        protocol = RestrictedUnpickler(fh).load()
        if protocol != LEGACY_PROTOCOL:
            raise ValueError(f"{path}: unsupported PyTorch protocol version {protocol!r}")
        sys_info = RestrictedUnpickler(fh).load()
        if not (isinstance(sys_info, dict) and sys_info.get("little_endian", False)):
            raise ValueError(f"{path} was written on a big-endian machine: not supported")
        result = RestrictedUnpickler(fh, storages).load()
        keys = RestrictedUnpickler(fh).load()
        if not (isinstance(keys, list) and set(keys) == set(storages)):
            raise pickle.UnpicklingError("the storage list does not match the tensors")
        for key in keys:
            storage = storages[key]
            header = fh.read(8)
            if len(header) != 8:
                raise pickle.UnpicklingError(f"{path} is truncated (storage {key})")
            count = int.from_bytes(header, "little")
            if count != storage.numel:
                raise pickle.UnpicklingError(
                    f"storage {key}: {count} elements on disk, {storage.numel} announced")
            nbytes = count * storage.dtype.itemsize
            if nbytes > size - fh.tell():
                raise pickle.UnpicklingError(
                    f"{path}: storage {key} announces {nbytes:,} bytes but only "
                    f"{size - fh.tell():,} follow: the file is truncated or damaged")
            storage.data = np.frombuffer(fh.read(nbytes), dtype=storage.dtype)
    if not (isinstance(result, dict) and all(isinstance(v, _LazyTensor) for v in result.values())):
        raise ValueError(f"{path} holds a {type(result).__name__}, not a state dict of tensors")
    return collections.OrderedDict((key, tensor.materialise()) for key, tensor in result.items())
