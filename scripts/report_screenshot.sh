#!/usr/bin/env bash
# Render a comparison report in headless Chromium so a person can check how it looks:
#   scripts/report_screenshot.sh imbalance-demo/report.html docs/report.png [height]
# Needs Debian's `chromium` package (apt-get install chromium); the project itself never needs it.
set -euo pipefail
report=${1:?usage: $0 REPORT.html OUT.png [HEIGHT]}
out=${2:?usage: $0 REPORT.html OUT.png [HEIGHT]}
height=${3:-3200}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "No Chromium found: apt-get install chromium" >&2
  exit 1
fi
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,"$height" \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$report")" 2>/dev/null
echo "wrote $out"
