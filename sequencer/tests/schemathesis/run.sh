#!/usr/bin/env bash
# Runs the pinned schemathesis over an OpenAPI document served at $1 (a URL): every check,
# both positive and negative data, 20 derandomized examples per operation, two workers.
# Generated headers with control characters are dropped (hooks.py). Exits non-zero on
# any failure. Used by sequencer/tests/schemathesis.rs (the sequencer's
# document) and channel-hub/tests/openapi.rs (the hub's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
st=$("$here/venv.sh")
# Hypothesis keeps its caches (.hypothesis/) in the working directory, which is a package's
# source directory under cargo test: keep them out of the tree (a file newer than the
# service binaries there made the stack tests rebuild them).
export HYPOTHESIS_STORAGE_DIRECTORY="${TMPDIR:-/tmp}/weft-hypothesis"
PYTHONPATH="$here" SCHEMATHESIS_HOOKS=hooks exec "$st" run "$1" \
  --data-generation-method=all \
  --checks all \
  --hypothesis-max-examples=20 \
  --hypothesis-derandomize \
  --hypothesis-suppress-health-check=all \
  --workers 2 \
  --request-timeout 10000 \
  --no-color \
  --experimental=openapi-3.1
