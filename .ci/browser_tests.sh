#!/usr/bin/env bash
# Browser tests of the dashboard: Debian's chromium driven by the Playwright Python package
# (no browser download; tests/browser launches /usr/bin/chromium headless). Screenshots are left in
# $INFERCOST_ARTIFACTS/screenshots (default .ci/artifacts/screenshots) for CI to keep.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then as_root=(); else as_root=(sudo); fi
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium
fi

command -v python3.11 >/dev/null 2>&1 && py=python3.11 || py=python3
make .venv/.installed-dev PYTHON="$py" >/dev/null
.venv/bin/python -c "import playwright" 2>/dev/null ||
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 .venv/bin/python -m pip install --quiet -e '.[browser]'

export INFERCOST_ARTIFACTS="${INFERCOST_ARTIFACTS:-.ci/artifacts}"
export INFERCOST_REQUIRE_BROWSER=1  # a missing browser fails here instead of skipping
mkdir -p "$INFERCOST_ARTIFACTS"
.venv/bin/pytest tests/browser -q -p no:cacheprovider "$@"
echo "screenshots: $INFERCOST_ARTIFACTS/screenshots"
