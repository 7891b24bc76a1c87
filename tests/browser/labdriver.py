"""Start a private JupyterLab server and drive it from a real browser (Playwright).

Used by ``tests/browser``. Nothing here writes into the repository except screenshots under
``artifacts/browser/``: the server's config, settings, workspaces and runtime files live in a
temporary folder, autosave is off and notebooks are never saved, so the lessons on disk stay
without outputs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
#: filled during a run: seconds of each lesson's Run All Cells and each test's outcome/duration
TIMINGS: dict = {"run_all": {}, "tests": {}, "started": time.monotonic()}

#: Chromium flags that work on a machine with no display, as root, on a closed network
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser",
                       "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable")

# JupyterLab user settings for the test server: every cell kept in the page (no windowing, so
# the test sees every output), no autosave (the lessons on disk must stay clean), no news or
# update checks (the network is closed in classrooms and CI).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


def notebook_dir() -> Path:
    """The folder JupyterLab serves: notebooks/, or $TLCOURSE_BROWSER_NOTEBOOKS (to test the test)."""
    return Path(os.environ.get("TLCOURSE_BROWSER_NOTEBOOKS") or ROOT / "notebooks").resolve()


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome executable: ``$TLCOURSE_CHROMIUM`` first, then the usual
    system locations. None when there is none."""
    wanted = os.environ.get("TLCOURSE_CHROMIUM")
    if wanted:
        return wanted if os.access(wanted, os.X_OK) else None
    for path in CHROMIUM_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_mentioning(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (our private runtime folder: only the
    kernels this server started have it in their argv)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and int(proc.name) != os.getpid():
            pids.append(int(proc.name))
    return pids


@dataclass
class JupyterServer:
    """A JupyterLab server on 127.0.0.1 with a random port and token, in its own process group."""

    notebook_dir: Path
    env: dict
    jupyter: Path = field(default_factory=lambda: Path(sys.executable).with_name("jupyter"))
    port: int = 0
    token: str = ""
    tmp: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.tmp / "jupyter.log"

    def start(self, timeout: float = 120) -> JupyterServer:
        self.tmp = Path(tempfile.mkdtemp(prefix="tlcourse-lab-"))
        self.port, self.token = free_port(), secrets.token_hex(24)
        for rel, value in LAB_SETTINGS.items():
            path = self.tmp / "settings" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        env = dict(self.env,
                   JUPYTER_CONFIG_DIR=str(self.tmp / "config"),
                   JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"))
        cmd = [str(self.jupyter), "lab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.notebook_dir}",
               f"--LabApp.user_settings_dir={self.tmp / 'settings'}",
               f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}",
               # JupyterLab checkpoints a notebook when it opens it: keep those out of the repo
               f"--FileCheckpoints.root_dir={self.tmp / 'checkpoints'}",
               # window.jupyterapp: lets the test read cell outputs and kernel state
               "--LabApp.expose_app_in_browser=True"]
        if os.geteuid() == 0:  # CI runs as root; Jupyter refuses root without this
            cmd.append("--allow-root")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=self.notebook_dir, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
                continue
            self._check_settings()
            return self
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def _check_settings(self) -> None:
        """The private settings are in force (autosave off above all: lessons stay clean)."""
        for rel, wanted in LAB_SETTINGS.items():
            plugin = rel.removesuffix(".jupyterlab-settings").replace("/", ":").replace(":", "/", 1)
            got = self.api("GET", f"/lab/api/settings/{plugin}")["settings"]
            wrong = {k: got.get(k) for k, v in wanted.items() if got.get(k) != v}
            if wrong:
                raise RuntimeError(f"JupyterLab ignored the test's settings for {plugin}: {wrong}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def api(self, method: str, path: str, body: dict | None = None):
        """Call the Jupyter REST API; returns the decoded JSON (None for an empty answer)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def lab_url(self, notebook: str, workspace: str) -> str:
        """Address that opens ``notebook`` alone in a fresh workspace."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions") or []:
            try:
                self.api("DELETE", f"/api/sessions/{session['id']}")
            except (OSError, urllib.error.URLError):
                pass

    def stop(self) -> None:
        """Stop the server and every kernel it started, whatever state they are in."""
        if self.proc is None:
            return
        runtime = str(self.tmp / "runtime")
        if self.proc.poll() is None:
            try:
                self.shutdown_kernels()
                self.api("POST", "/api/shutdown")
                self.proc.wait(timeout=20)
            except Exception:  # noqa: BLE001 - any failure: fall through to the signals
                pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(timeout=wait)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        # Kernels run in sessions of their own; each has our runtime folder in its argv.
        for pid in _pids_mentioning(runtime):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.proc = None


# --- the page side ---------------------------------------------------------------------------

_PANEL = "window.jupyterapp.shell.currentWidget"

# State of the open notebook, read from JupyterLab's own models.
_STATE_JS = f"""() => {{
  const p = window.jupyterapp && {_PANEL};
  if (!p || !p.content || !p.sessionContext) return null;
  const cells = [];
  const m = p.content.model;
  for (let i = 0; i < m.cells.length; i++) cells.push(m.cells.get(i).toJSON());
  const prompts = Array.from(p.node.querySelectorAll('.jp-InputPrompt')).map(e => e.textContent);
  const ctx = p.sessionContext;
  return {{
    id: p.id,
    path: p.context.path,
    status: ctx.kernelDisplayStatus,
    kernel: ctx.session && ctx.session.kernel ? ctx.session.kernel.name : null,
    kernelDisplayName: ctx.kernelDisplayName,
    dialog: document.querySelector('.jp-Dialog') ? document.querySelector('.jp-Dialog').innerText : null,
    running: prompts.filter(t => t.includes('*')).length,
    cells,
  }};
}}"""


def error_outputs(cells: list[dict]) -> list[str]:
    """One line per error output: cell number, exception, first source line."""
    found = []
    for i, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((ln for ln in cell["source"].splitlines() if ln.strip()), "")
                found.append(f"cell {i} ({first[:60]!r}): {out.get('ename')}: {out.get('evalue')}")
    return found


def unexecuted(cells: list[dict]) -> list[int]:
    return [i for i, c in enumerate(cells)
            if c["cell_type"] == "code" and c["source"].strip() and c.get("execution_count") is None]


class Lab:
    """One JupyterLab tab in the browser, with one notebook open."""

    def __init__(self, server: JupyterServer, context, timeout_s: float, opened: set | None = None):
        self.server, self.context, self.timeout_s = server, context, timeout_s
        self.opened = set() if opened is None else opened  # every notebook this tab opened
        self.page = None
        self.notebook: str | None = None
        self.ran_clean = False
        self._n = 0

    # opening and closing
    def open(self, notebook: str) -> None:
        self.close()
        self._n += 1
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.notebook = notebook
        self.ran_clean = False
        self.opened.add(notebook)
        self.page.goto(self.server.lab_url(notebook, f"t{self._n}"))
        # The notebook is open once JupyterLab shows its panel; then its kernel must start.
        self.page.wait_for_function(
            f"() => {{ try {{ const p = {_PANEL}; return p && p.context && p.context.isReady &&"
            f" p.context.path === {json.dumps(notebook)}; }} catch (e) {{ return false; }} }}",
            timeout=120_000)
        deadline = time.monotonic() + 120
        while True:
            st = self.state()
            if st["dialog"]:
                raise AssertionError(
                    f"JupyterLab asks about the kernel instead of starting it:\n{st['dialog']}\n"
                    "The lessons need the 'tlcourse' kernel: run `make install` (it registers it).")
            if st["status"] == "idle" and st["kernel"]:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"kernel not ready after 120 s: status {st['status']!r}, "
                                     f"kernel {st['kernel']!r}")
            time.sleep(0.5)

    def close(self) -> None:
        if self.page is None:
            return
        try:
            self.server.shutdown_kernels()
        finally:
            self.page.close(run_before_unload=False)
            self.page, self.notebook, self.ran_clean = None, None, False

    # reading state
    def state(self) -> dict:
        st = self.page.evaluate(_STATE_JS)
        if st is None:
            raise AssertionError("no notebook is the current JupyterLab tab")
        return st

    def session(self) -> dict:
        """The server's record of this notebook's session (REST /api/sessions)."""
        sessions = [s for s in self.server.api("GET", "/api/sessions") if s["path"] == self.notebook]
        assert len(sessions) == 1, f"expected one session for {self.notebook}, got {sessions}"
        return sessions[0]

    # running
    def _menu(self, menu: str, item: str) -> None:
        """Click a top-level menu, then one of its items, as a learner would."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
        # "Run All Cells" must not match "Restart Kernel and Run All Cells…"
        self.page.locator(".lm-Menu-content .lm-Menu-item:visible .lm-Menu-itemLabel",
                          has_text=re.compile(f"^{re.escape(item)}")).click()

    def _clear(self) -> None:
        # Outputs and execution counts are cleared so that "all cells ran" means this run.
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        self.page.wait_for_function(
            f"() => {{ const m = {_PANEL}.content.model; for (let i = 0; i < m.cells.length; i++) {{"
            " const c = m.cells.get(i); if (c.type === 'code' && c.executionCount !== null) return false; }"
            " return true; }")

    def run_all(self) -> dict:
        """Run > Run All Cells, then wait until every cell has run (or one failed)."""
        self._clear()
        self._menu("Run", "Run All Cells")
        return self.wait_done()

    def restart_run_all(self) -> dict:
        """Kernel > Restart Kernel and Run All Cells…, confirm, then wait as in :meth:`run_all`."""
        self._clear()
        self._menu("Kernel", "Restart Kernel and Run All Cells")
        self.page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
        return self.wait_done()

    def wait_done(self) -> dict:
        """Wait for the kernel to be idle with no cell queued, twice in a row; return the state."""
        deadline = time.monotonic() + self.timeout_s
        calm = 0
        while True:
            st = self.state()
            done = (st["status"] == "idle" and st["running"] == 0
                    and (not unexecuted(st["cells"]) or error_outputs(st["cells"])))
            calm = calm + 1 if done else 0
            if calm >= 3:
                self.ran_clean = not error_outputs(st["cells"])
                return st
            if st["status"] == "dead" or st["dialog"]:
                raise AssertionError(f"kernel {st['status']!r} while running {self.notebook}"
                                     + (f"; JupyterLab says: {st['dialog']}" if st["dialog"] else ""))
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.notebook} still running after {self.timeout_s:.0f} s (kernel "
                    f"{st['status']!r}, cells not run yet: {unexecuted(st['cells'])})")
            time.sleep(0.5)

    # looking at it
    def panel(self):
        return self.page.locator(f"#{self.state()['id']}")

    def screenshot_last_figure(self, path: Path) -> bool:
        """Screenshot the notebook's last image output (the whole tab when it has none)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        images = self.panel().locator(".jp-OutputArea-output img")
        if images.count():
            target = images.last
            target.scroll_into_view_if_needed()
            target.screenshot(path=str(path))
            return True
        self.page.screenshot(path=str(path))
        return False

    def show_first_error(self) -> None:
        """Scroll the first error output into view (for the failure screenshot)."""
        if self.page is None:
            return
        self.page.evaluate(
            f"() => {{ const p = {_PANEL}; if (!p || !p.content) return;"
            " const w = p.content.widgets.find(c => c.model.type === 'code' &&"
            " c.model.toJSON().outputs.some(o => o.output_type === 'error'));"
            " if (w) w.node.scrollIntoView(); }")
