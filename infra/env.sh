# shellcheck shell=bash
# Source this (`. infra/env.sh`) to point promptopt at the servers from infra/up.sh.
# Same values as the defaults in promptopt/settings.py.
export PROMPTOPT_KAFKA_BOOTSTRAP=127.0.0.1:19092
export PROMPTOPT_POSTGRES_DSN=postgresql://promptopt@127.0.0.1:15432/promptopt
export PROMPTOPT_MONGO_URI=mongodb://127.0.0.1:27018/
export PROMPTOPT_REDIS_URL=redis://127.0.0.1:16379/0
