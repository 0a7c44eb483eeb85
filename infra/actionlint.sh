#!/usr/bin/env bash
# actionlint, the linter the suite runs over .github/workflows/ (tests/unit/deploy), built
# from its Go module with `go install` into .infra/bin (the PyPI wrapper only ships a source
# package that downloads the binary at build time, which cannot work here).
#   infra/actionlint.sh install|status|path
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="${PROMPTOPT_ACTIONLINT_VERSION:-v1.7.12}"
BIN="$STATE/bin/actionlint"

installed_version() { [[ -x "$BIN" ]] && "$BIN" --version 2>/dev/null | head -n1; }

do_install() {
  [[ "$(installed_version)" == "$VERSION" || "$(installed_version)" == "${VERSION#v}" ]] && return 0
  command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]] ||
    die "actionlint: needs Go >= 1.24 to build (not found; Debian's golang-go is too old)"
  local go=go
  command -v go >/dev/null 2>&1 || go=/usr/local/go/bin/go
  say "actionlint: go install github.com/rhysd/actionlint/cmd/actionlint@$VERSION"
  mkdir -p "$STATE/bin"
  GOBIN="$STATE/bin" GOFLAGS=-mod=mod "$go" install \
    "github.com/rhysd/actionlint/cmd/actionlint@$VERSION" >&2 || die "actionlint: go install failed"
}

case "${1:-}" in
  install) do_install ;;
  status | health)
    if [[ -n "$(installed_version)" ]]; then echo "actionlint: $BIN ($(installed_version))"; else
      echo "actionlint: not installed (bash infra/actionlint.sh install)"; exit 1; fi ;;
  path) echo "$BIN" ;;
  *) echo "usage: infra/actionlint.sh install|status|path" >&2; exit 2 ;;
esac
