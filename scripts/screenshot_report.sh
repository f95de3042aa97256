#!/bin/sh
# Take a screenshot of an `snnc report` HTML page with headless Chromium (Debian: apt-get install chromium).
#
#   scripts/screenshot_report.sh REPORT.html OUT.png [WIDTHxHEIGHT]
#
# Chromium runs without network features, sync, GPU or a sandbox (for containers), with a throw-away profile, so the
# screenshot shows only what the self-contained page holds.  Exit 2 when Chromium is not installed.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT.html OUT.png [WIDTHxHEIGHT]" >&2
    exit 2
fi
page=$1
out=$2
size=${3:-1200x1600}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "$0: chromium is not installed (Debian: apt-get install chromium)" >&2
    exit 2
fi
[ -f "$page" ] || { echo "$0: $page: no such file" >&2; exit 2; }
abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
out_abs=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --user-data-dir="$profile" --hide-scrollbars \
    --screenshot="$out_abs" --window-size="$(echo "$size" | tr x ,)" "file://$abs" >/dev/null 2>&1
[ -s "$out_abs" ] || { echo "$0: chromium wrote no screenshot" >&2; exit 1; }
echo "wrote $out"
