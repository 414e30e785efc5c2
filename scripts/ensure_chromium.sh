#!/usr/bin/env bash
# Headless Chromium for the report's browser test (tests/integration/test_report_browser.py).
# Installs the OS package when it is missing and we are root (CI runs as root on a fresh
# machine); otherwise says why and leaves it to the test, which then skips with that message.
set -uo pipefail
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then
    exit 0
  fi
done
if [ "$(id -u)" != "0" ]; then
  echo "ensure_chromium: chromium not found and not root: the browser test will be skipped" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: chromium not found and no apt-get: the browser test will be skipped" >&2
  exit 0
fi
echo "==> installing chromium (apt-get) for the report's browser test"
if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; then
  echo "ensure_chromium: apt-get install chromium failed: the browser test will be skipped" >&2
fi
exit 0
