"""A real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright.

The test starts ``jupyter lab`` on a free port with a random token, opens
``weights_widget.ipynb`` (beside this file) in Debian's ``/usr/bin/chromium`` (no browser is
downloaded: ``tools/install_browser.sh`` installs the package and the ``playwright`` Python
package), runs all cells from the Run menu, waits for the teacher-weights widget to render (not
"Loading widget..."), drags a teacher-weight slider and checks that the widget's readout of the
fused guidance space changes and the weights still sum to 1. A screenshot is written to
``runs/browser/lab.png`` (override with ``DTGKIT_BROWSER_SCREENSHOT``) and copied to
``/tmp/dtgkit_lab.png``.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = os.environ.get("DTGKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
NOTEBOOK = "weights_widget.ipynb"
TIMEOUT_MS = 90_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer {url} in {timeout} s:\n{log.read_text()}")


def _scores_text(page) -> str:
    return page.locator(".dtgkit-weights-scores").first.inner_text()


@pytest.fixture()
def lab(tmp_path):
    """JupyterLab serving a copy of weights_widget.ipynb; yields (base url, token)."""
    pytest.importorskip("playwright.sync_api",
                        reason="playwright is not installed (bash tools/install_browser.sh)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found (bash tools/install_browser.sh installs Debian's "
                    "chromium package)")
    root = tmp_path / "nb"
    root.mkdir()
    shutil.copy(HERE / NOTEBOOK, root / NOTEBOOK)
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, DTGKIT_FAST="1", DTGKIT_BROWSER_CACHE=str(tmp_path / "cache"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), PYTHONUNBUFFERED="1")
    env.pop("MPLBACKEND", None)  # the kernel picks the inline backend itself
    log = tmp_path / "lab.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", "--ServerApp.terminals_enabled=False",
             "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
            cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_weights_widget_in_jupyterlab(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    base, token, log = lab
    shot = Path(os.environ.get("DTGKIT_BROWSER_SCREENSHOT", REPO / "runs" / "browser" / "lab.png"))
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            try:
                page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
                page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
                # a kernel must be attached before "Run All" (the status bar says Idle)
                page.wait_for_selector("#jp-main-statusbar >> text=/Idle/")
                page.locator(".jp-Notebook").first.click()
                page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
                page.locator("li.lm-Menu-item", has_text=re.compile(r"^Run All Cells$")).click()

                slider = page.locator(".dtgkit-weight-slider").first
                slider.wait_for(state="visible")
                page.wait_for_selector(".dtgkit-weights-scores", state="visible")
                assert page.locator("text=Loading widget").count() == 0
                assert page.locator(".dtgkit-weight-slider").count() == 2
                before = _scores_text(page)
                assert "kNN acc" in before

                handle = slider.locator(".noUi-handle").first
                box = handle.bounding_box()
                track = slider.locator(".noUi-target, .slider").first.bounding_box()
                page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.mouse.down()
                page.mouse.move(track["x"] + 0.85 * track["width"], box["y"] + box["height"] / 2,
                                steps=8)
                page.mouse.up()
                page.wait_for_function(
                    "before => { const e = document.querySelector('.dtgkit-weights-scores');"
                    " return e && e.innerText !== before; }", arg=before)
                time.sleep(1.0)  # let the last continuous update land before reading
                after = _scores_text(page)
                readouts = [float(r) for r in page.locator(
                    ".dtgkit-weight-slider .widget-readout").all_inner_texts()]
                figure = page.locator(".dtgkit-teacher-weights img").first
                figure.wait_for(state="visible")
                assert figure.evaluate("img => img.complete && img.naturalWidth > 0")
                page.locator(".dtgkit-teacher-weights").first.evaluate(
                    "el => el.scrollIntoView({block: 'start'})")
                time.sleep(0.5)
                page.screenshot(path=str(shot))
            except Exception:
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                shutil.copy(tmp_path / "failure.png", "/tmp/dtgkit_lab_failure.png")
                print(f"screenshot: {tmp_path / 'failure.png'}; JupyterLab log:\n"
                      + log.read_text()[-5000:])
                raise
        finally:
            browser.close()
    shutil.copy(shot, "/tmp/dtgkit_lab.png")
    assert after != before
    assert len(readouts) == 2 and sum(readouts) == pytest.approx(1.0, abs=0.011)
    assert readouts[0] > 0.6  # dragged from 0.50 towards 0.85
