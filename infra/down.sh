#!/usr/bin/env bash
# Stop the servers started by infra/up.sh (data in .infra/ is kept).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rc=0
for s in redis mongo kafka postgres; do
  bash "$INFRA_DIR/$s.sh" stop || rc=1
done
exit "$rc"
