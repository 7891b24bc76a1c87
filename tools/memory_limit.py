"""pytest plugin: run each notebook (its kernel and the test process) under a memory limit, the way
Binder limits a session (a Linux memory cgroup, as Kubernetes sets one).

    python -m pytest -p tools.memory_limit --memory-limit 1.8G --nbval-lax notebooks/...

At each notebook's first cell the test process moves into a new memory cgroup with that limit,
so the kernel nbval starts for the notebook is inside it; when the notebook's last cell is done
the process moves back and the cgroup is removed. A kernel that needs more memory than the limit
is killed (out of memory), and the notebook's remaining cells fail. Page cache counts towards the
limit too, but the kernel reclaims it (clean file pages) before it kills anything, as on Binder.

Why hand-written: no library on PyPI sets a cgroup limit for a child process group from pytest;
systemd-run needs a running systemd, which containers and CI machines often lack.

cgroup v1 (``memory`` hierarchy) and v2 (``memory`` controller enabled for children) are
supported; it needs permission to create cgroups (root in a container). Where that is missing the
plugin says so in one line and the notebooks run without a limit, unless ``--memory-limit-required``.
The summary gives, per notebook, the limit, the cgroup's peak charge and the kernel's peak
resident memory (VmHWM).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from queue import Empty

import pytest

ROOT = Path("/sys/fs/cgroup")


def parse_size(text: str) -> int:
    """'1.8G' -> 1_800_000_000 bytes (K, M, G are powers of 1000; Ki, Mi, Gi of 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?)?B?\s*", str(text), flags=re.IGNORECASE)
    if not m:
        raise pytest.UsageError(f"--memory-limit: expected a size such as 1.8G or 1800M, got {text!r}")
    number, unit = float(m.group(1)), (m.group(2) or "").upper()
    scale = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "KI": 2**10, "MI": 2**20, "GI": 2**30}[unit]
    if number * scale < 100 * 10**6:
        raise pytest.UsageError(f"--memory-limit {text!r} is below 100 MB: no kernel starts in that")
    return int(number * scale)


def own_cgroup() -> tuple[str, Path]:
    """('v1' or 'v2', the folder of this process's memory cgroup); raises OSError if neither."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = ROOT / "memory" / path.lstrip("/")
            if folder.is_dir():
                return "v1", folder
    for line in lines:
        if line.startswith("0::"):
            folder = ROOT / line[3:].lstrip("/")
            if (folder / "cgroup.subtree_control").is_file():
                if "memory" in (folder / "cgroup.subtree_control").read_text().split():
                    return "v2", folder
                raise OSError(f"cgroup v2 without the memory controller for children in {folder}")
    raise OSError("no memory cgroup found in /proc/self/cgroup")


class Limiter:
    def __init__(self, limit: int):
        self.limit = limit
        self.version, self.home = own_cgroup()
        self.current: Path | None = None
        self.count = 0
        self.rows: list[tuple[str, int, int | None, bool]] = []
        probe = self._make()  # fails here, at start-up, where cgroups cannot be created
        probe.rmdir()

    def _make(self) -> Path:
        self.count += 1
        folder = self.home / f"tlcourse-{os.getpid()}-{self.count}"
        folder.mkdir()
        name = "memory.limit_in_bytes" if self.version == "v1" else "memory.max"
        try:
            (folder / name).write_text(str(self.limit))
        except OSError:
            folder.rmdir()  # nothing left behind where the limit cannot be set
            raise
        if self.version == "v1" and (folder / "memory.memsw.limit_in_bytes").exists():
            try:  # no swapping round the limit either (where swap accounting is on)
                (folder / "memory.memsw.limit_in_bytes").write_text(str(self.limit))
            except OSError:
                pass
        return folder

    def enter(self) -> None:
        self.current = self._make()
        (self.current / "cgroup.procs").write_text(str(os.getpid()))

    def oom_kills(self, folder: Path | None = None) -> int:
        """Processes the kernel killed for lack of memory in this notebook's cgroup so far."""
        folder = folder or self.current
        try:
            text = (folder / ("memory.oom_control" if self.version == "v1" else "memory.events")).read_text()
        except (OSError, TypeError):
            return 0
        found = re.search(r"^oom_kill (\d+)$", text, flags=re.MULTILINE)
        return int(found.group(1)) if found else 0

    def leave(self, notebook: str, kernel_peak: int | None) -> None:
        folder, self.current = self.current, None
        peak_file = "memory.max_usage_in_bytes" if self.version == "v1" else "memory.peak"
        try:
            peak = int((folder / peak_file).read_text())
        except (OSError, ValueError):
            peak = -1
        oom = self.oom_kills(folder)
        (self.home / "cgroup.procs").write_text(str(os.getpid()))
        self.rows.append((notebook, peak, kernel_peak, oom > 0))
        for _ in range(20):  # a stopped or killed kernel can take a moment to leave the cgroup
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.25)


def fail_fast(limiter: Limiter) -> None:
    """nbval waits up to its cell timeout (2,000 s) for a kernel that has died. Wait in slices of
    5 s instead and fail the cell as soon as the kernel is gone, saying why where it was the limit."""
    from nbval.kernel import RunningKernel

    original = RunningKernel.await_reply

    def await_reply(self, msg_id, timeout=None):
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise Empty
            try:
                return original(self, msg_id, timeout=5 if left is None else min(5, left))
            except Empty:
                if not self.is_alive():
                    why = (f": out of memory, this notebook needs more than the "
                           f"{limiter.limit / 1e9:.2f} GB limit") if limiter.oom_kills() else ""
                    raise RuntimeError(f"the kernel died{why}") from None

    RunningKernel.await_reply = await_reply


def kernel_peak(item) -> int | None:
    """VmHWM of the notebook's kernel process, in bytes (None if it cannot be read)."""
    try:
        km = item.parent.kernel.km
        pid = getattr(getattr(km, "provisioner", None), "pid", None) or km.kernel.pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (AttributeError, OSError, ValueError):
        return None
    return None


def pytest_addoption(parser):
    group = parser.getgroup("memory limit")
    group.addoption("--memory-limit", default=None,
                    help="run each notebook under this memory limit (cgroup), e.g. 1.8G")
    group.addoption("--memory-limit-required", action="store_true",
                    help="fail instead of running without a limit where cgroups cannot be made")


def pytest_configure(config):
    size = config.getoption("--memory-limit")
    if not size:
        return
    limit = parse_size(size)
    config._tlcourse_rows = []
    controller = not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None)
    if controller:  # pytest-xdist: the workers run the notebooks, each under its own limits
        config._tlcourse_limit = limit
        return
    try:
        config._tlcourse_limiter = Limiter(limit)
        fail_fast(config._tlcourse_limiter)
    except OSError as exc:
        message = f"memory limit {limit / 1e9:.2f} GB NOT enforced: {exc}"
        if config.getoption("--memory-limit-required"):
            raise pytest.UsageError(message) from exc
        config._tlcourse_limit_note = message


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    limiter = getattr(item.config, "_tlcourse_limiter", None)
    if limiter is not None and limiter.current is None:  # a notebook's first cell (the last left)
        limiter.enter()  # before nbval starts this notebook's kernel
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    limiter = getattr(item.config, "_tlcourse_limiter", None)
    last = nextitem is None or nextitem.parent is not item.parent
    peak = kernel_peak(item) if limiter is not None and limiter.current and last else None
    yield  # nbval stops the kernel in the last cell's teardown
    if limiter is not None and limiter.current is not None and last:
        limiter.leave(str(item.path.relative_to(item.config.rootpath)), peak)


def pytest_sessionfinish(session):
    config = session.config
    limiter = getattr(config, "_tlcourse_limiter", None)
    if limiter is not None and limiter.current is not None:  # stopped inside a notebook (Ctrl-C, -x)
        limiter.leave("(interrupted notebook)", None)
    if hasattr(config, "workerinput") and hasattr(config, "_tlcourse_rows"):  # back to the controller
        config.workeroutput["tlcourse_memory"] = {
            "rows": limiter.rows if limiter else [], "version": limiter.version if limiter else None,
            "note": getattr(config, "_tlcourse_limit_note", None)}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    config = node.config
    report = getattr(node, "workeroutput", {}).get("tlcourse_memory")
    if report and hasattr(config, "_tlcourse_rows"):
        config._tlcourse_rows.extend(report["rows"])
        config._tlcourse_version = report["version"] or getattr(config, "_tlcourse_version", None)
        if report["note"]:
            config._tlcourse_limit_note = report["note"]


def pytest_terminal_summary(terminalreporter, config):
    if not hasattr(config, "_tlcourse_rows"):
        return
    note = getattr(config, "_tlcourse_limit_note", None)
    if note:
        terminalreporter.write_line(note)
    limiter = getattr(config, "_tlcourse_limiter", None)
    rows = config._tlcourse_rows + (limiter.rows if limiter else [])
    if not rows:
        return
    limit = limiter.limit if limiter else config._tlcourse_limit
    version = limiter.version if limiter else getattr(config, "_tlcourse_version", "?")
    terminalreporter.section(f"memory limit {limit / 1e9:.2f} GB per notebook (cgroup {version})")
    for notebook, peak, kpeak, killed in sorted(rows):
        kernel = f"kernel peak resident {kpeak / 1e9:.2f} GB" if kpeak else "kernel peak unknown"
        terminalreporter.write_line(f"{notebook}: cgroup peak {peak / 1e9:.2f} GB, {kernel}"
                                    + (" | OUT OF MEMORY: killed" if killed else ""))
