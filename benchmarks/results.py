"""What every benchmark script shares: running a notebook as a learner would, and writing one
section of benchmarks/RESULTS.md without touching the others.

``run_notebook`` executes a notebook from the top in a fresh kernel (nbclient) and can append one
cell that prints the lesson's figures as ``MARKER{json}``. It records the kernel process's peak
resident memory (the kernel's own high-water mark, ``VmHWM`` in ``/proc/<pid>/status`` on Linux,
read while the kernel is alive), overall and after each cell. ``write_section(name, markdown)``
puts a section between ``<!-- name:start -->`` and ``<!-- name:end -->`` markers, so scripts
can run in any order (a file lock keeps two writers from losing each other's figures).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import platform
import re
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\n"
    "Written by the scripts in `benchmarks/` (each owns one section; rerun a script to "
    "refresh its section). Speed targets live here, not in timed tests.\n"
)


def machine() -> str:
    """One line describing this machine (for the record next to each figure)."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def stamp() -> str:
    return f"_{_dt.date.today().isoformat()} on {machine()}_"


def write_section(name: str, markdown: str) -> Path:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"section name must be lowercase letters, digits and _, got {name!r}")
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    RESULTS.touch(exist_ok=True)
    with open(RESULTS, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        text = fh.read() or HEADER
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
        fh.seek(0)
        fh.truncate()
        fh.write(text)
    return RESULTS


@dataclass
class NotebookRun:
    """One execution of a notebook: wall and kernel CPU seconds, status, harvested figures."""

    wall_s: float
    cpu_s: float
    status: str  # "ok", or "FAILED: <last line of the error>"
    cells_wall_s: float  # first cell's start to the last notebook cell's end (no kernel start)
    load: tuple[float, float]  # 1-minute load average at the start and at the end
    data: dict = field(default_factory=dict)  # what the harvest cell printed after MARKER
    peak_rss_mb: float | None = None  # kernel process's peak resident memory (MB); None if unknown
    cells_peak_mb: list = field(default_factory=list)  # (cell index, peak so far, current RSS) in MB

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_notebook(path: Path, quick: bool, harvest: str | None = None, marker: str = "BENCH",
                 env: dict | None = None, save: Path | None = None,
                 raise_on_error: bool = False) -> NotebookRun:
    """Execute ``path`` from the top in a fresh kernel with TLCOURSE_QUICK set for ``quick``.

    ``harvest``: source of one extra cell run at the end in the same kernel; the JSON it prints
    after ``marker`` comes back as ``.data``. ``env``: more environment variables for the run
    (restored afterwards; a value of None unsets one). ``save``: write the executed notebook
    (outputs included) to this file. A failing cell is recorded in ``.status`` (the other
    notebooks of a benchmark still run) unless ``raise_on_error``.
    """
    import nbformat
    from nbclient import NotebookClient

    changes = {"TLCOURSE_QUICK": "1" if quick else "0", **(env or {})}
    saved = {key: os.environ.get(key) for key in changes}
    nb = nbformat.read(path, as_version=4)
    if harvest:
        nb.cells.append(nbformat.v4.new_code_cell(harvest))
    memory = KernelMemory()
    client = NotebookClient(nb, timeout=3600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_notebook_start=lambda notebook: memory.attach(client),
                            on_cell_executed=lambda cell, cell_index, execute_reply:
                                memory.after_cell(cell_index))
    for key, value in changes.items():
        _setenv(key, value)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    status = "ok"
    try:
        client.execute()
    except Exception as exc:
        if raise_on_error:
            raise
        status = "FAILED: " + (str(exc).strip().splitlines() or ["?"])[-1][:160]
    finally:
        wall = time.perf_counter() - start
        memory.stop()
        for key, value in saved.items():
            _setenv(key, value)
        if save is not None:
            save.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, save)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    data: dict = {}
    if harvest:
        for output in nb.cells[-1].get("outputs", []):
            for line in output.get("text", "").splitlines():
                if marker in line:  # after a progress bar's "\r", the marker may not start the line
                    data = json.loads(line.split(marker, 1)[1])
    cells = nb.cells[:-1] if harvest else nb.cells
    return NotebookRun(wall, cpu, status, _cells_wall(cells, default=wall),
                       (load_before, os.getloadavg()[0]), data, memory.peak_mb, memory.cells)


def process_memory_mb(pid: int) -> tuple[float, float] | None:
    """(peak, current) resident memory of process ``pid`` in MB (10**6 bytes), or None.

    On Linux the peak is the kernel's own high-water mark (``VmHWM``), exact whenever it is read;
    elsewhere it falls back to psutil's current RSS for both, when psutil is installed.
    """
    status = Path(f"/proc/{pid}/status")
    try:
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        return (int(fields["VmHWM"].split()[0]) * 1024 / 1e6,
                int(fields["VmRSS"].split()[0]) * 1024 / 1e6)
    except (OSError, KeyError, ValueError):
        pass
    try:
        import psutil

        rss = psutil.Process(pid).memory_info().rss / 1e6
        return rss, rss
    except Exception:  # no psutil, or the process has gone
        return None


class KernelMemory:
    """Peak resident memory of a notebook's kernel process, overall and after each cell.

    ``attach(client)`` finds the kernel's pid and starts a thread that reads its memory every
    ``interval`` seconds (the last reading before the kernel exits is the peak on Linux, where the
    kernel keeps its own high-water mark); ``after_cell(i)`` records the peak so far and the
    current RSS once cell ``i`` has run; ``stop()`` ends the thread.
    """

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.pid: int | None = None
        self.peak_mb: float | None = None
        self.cells: list[tuple[int, float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, client) -> None:
        provisioner = getattr(getattr(client, "km", None), "provisioner", None)
        self.pid = getattr(provisioner, "pid", None)
        if self.pid is None:
            return
        self._read()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _read(self) -> tuple[float, float] | None:
        if self.pid is None:
            return None
        reading = process_memory_mb(self.pid)
        if reading is not None:
            self.peak_mb = max(self.peak_mb or 0.0, reading[0])
        return reading

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self._read()

    def after_cell(self, index: int) -> None:
        reading = self._read()
        if reading is not None:
            self.cells.append((index, reading[0], reading[1]))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _cells_wall(cells, default: float) -> float:
    """Seconds from the first code cell's start to the last one's end (nbclient's timings)."""
    stamps = [c.metadata.get("execution", {}) for c in cells if c.cell_type == "code"]
    stamps = [s for s in stamps if "iopub.execute_input" in s and "shell.execute_reply" in s]
    if not stamps:
        return default
    begin = _dt.datetime.fromisoformat(stamps[0]["iopub.execute_input"].replace("Z", "+00:00"))
    end = _dt.datetime.fromisoformat(stamps[-1]["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - begin).total_seconds()


def _setenv(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value
