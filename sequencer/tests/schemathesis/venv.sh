#!/usr/bin/env bash
# Makes (or reuses) the Python environment with the pinned schemathesis of
# requirements.txt and prints the path of its `st`. Used by `make deps` and by
# sequencer/tests/schemathesis.rs; needs python3 with venv and pip (PyPI reachable once).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${WEFT_SCHEMATHESIS_VENV:-${CARGO_TARGET_DIR:-$here/../../../target}/schemathesis-venv}
stamp=$venv/requirements.txt
if ! cmp -s "$here/requirements.txt" "$stamp" || [[ ! -x $venv/bin/st ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin/st"
