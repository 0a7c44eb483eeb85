#!/usr/bin/env bash
# Debian's chromium, the browser of the browser tests (tests/e2e/), driven headless through
# the `playwright` Python package with executable_path (playwright's own browser download
# cannot work here: nothing but package registries is reachable).
#   infra/chromium.sh install|status|path
# Not a server: nothing to start or stop. PROMPTOPT_CHROMIUM overrides the binary.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

chromium_path() {
  local p
  for p in "${PROMPTOPT_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    [[ -n "$p" && -x "$p" ]] && { echo "$p"; return 0; }
  done
  return 1
}

do_install() {
  if ! chromium_path >/dev/null; then
    # fonts-dejavu-core: without a font, every screenshot shows boxes instead of text.
    apt_install chromium fonts-dejavu-core
  fi
  chromium_path >/dev/null || die "chromium: not found after apt-get install chromium"
}

do_status() {
  local p
  if p="$(chromium_path)"; then
    # Debian's wrapper script prints a harmless shell warning on stderr; keep stdout.
    echo "chromium: $p ($("$p" --version 2>/dev/null | head -n1))"
    return 0
  fi
  echo "chromium: not installed (bash infra/chromium.sh install)"
  return 1
}

case "${1:-}" in
  install) do_install ;;
  status | health) do_status ;;
  path) chromium_path ;;
  *) echo "usage: infra/chromium.sh install|status|path" >&2; exit 2 ;;
esac
