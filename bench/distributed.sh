#!/usr/bin/env bash
# The master's cost as the fleet grows: a rustlocust master (in-process, bench/distributed_master.rs)
# drives 1, 2, 4, ... MAX_WORKERS real `locust --worker` processes (or, with WORKERS=rustlocust,
# `rustlocust --worker` processes) on this machine and reports its CPU per worker report and how
# old a report's newest sample is once merged.
#
#   bash bench/distributed.sh                     # 1..16 Locust workers, 2 users each, 15 s windows
#   WORKERS=rustlocust bash bench/distributed.sh  # the same with rustlocust workers
#   MAX_WORKERS=4 WINDOW=20 bash bench/distributed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${WORKERS:-locust}
if [ "$WORKERS" = locust ]; then
  command -v locust >/dev/null || { echo "needs locust (pip install locust==2.47.0)" >&2; exit 1; }
fi
WORKERS=$WORKERS MAX_WORKERS=${MAX_WORKERS:-16} WINDOW=${WINDOW:-15} USERS_PER_WORKER=${USERS_PER_WORKER:-2} \
  cargo bench --quiet --bench distributed_master -- run
