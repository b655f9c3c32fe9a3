#!/usr/bin/env bash
# What the real-browser test (tests/browser/test_jupyterlab.py) needs, and nothing else:
#   * Debian's `chromium` package (-> /usr/bin/chromium), installed with apt-get if missing;
#   * the Playwright Python package in the venv, which drives that chromium over CDP.
# `playwright install` is never run: no browser is downloaded, the test passes
# executable_path=/usr/bin/chromium to Playwright.
#
#   bash tools/install_browser.sh            # uses .venv/bin/python
#   PY=/path/to/python bash tools/install_browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
CHROMIUM="${DTGKIT_CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then
        command -v sudo >/dev/null || { echo "need root or sudo to apt-get install chromium" >&2; exit 1; }
        SUDO="sudo"
    fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
fi
"$CHROMIUM" --version

if [ ! -x "$PY" ]; then
    echo "no python at $PY: create the venv first (make's .venv/.dtgkit-installed) or set PY=" >&2
    exit 1
fi
if ! "$PY" -c "import playwright" 2>/dev/null; then
    "$PY" -m pip install -q "playwright>=1.40"
fi
"$PY" -c "import playwright, importlib.metadata as m; print('playwright', m.version('playwright'))"
