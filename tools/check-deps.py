#!/usr/bin/env python3
"""Checks the workspace's dependency direction (docs/design.md, "Layout").

    protocol <- {l1, storage, api, channel} <- {sequencer, prover, hub, wallet} <- {cli, tools, tests}

A crate may depend only on crates of a lower layer (normal, build and dev edges alike; a crate's
dev-dependency on itself, to turn on its own test features, is allowed). No service depends on
another service, with one exception for tests: a service's own tests may run the sequencer
in-process as the rollup they talk to, and drive wallets with the wallet library
(`TEST_FIXTURES`, dev-dependencies only); tests that span several services live in the
top-level `tests/` crate. On top of the direct edges, what a wallet embeds is checked transitively with
`cargo tree` (the features that selection really builds): no service crate, no server framework,
no L1 provider, no PostgreSQL driver.

Every declared dependency must also be used: its crate name appears in the package's sources
(an equivalent of `unused_crate_dependencies` that works per package rather than per target).

Run by `make lint`; exits 1 with one line per violation.
"""

import json
import pathlib
import re
import subprocess
import sys

# The layer of every workspace crate. A new crate must be placed here, or the check fails.
LAYERS = {
    "weft-protocol": 0,
    "weft-l1": 1,
    "weft-storage": 1,
    "weft-api": 1,
    "weft-channel": 1,
    "weft-service": 1,
    "weft-sequencer": 2,
    "weft-prover-stub": 2,
    "weft-channel-hub": 2,
    "weft-wallet": 2,
    "weft-cli": 3,
    "weft-loadgen": 3,
    "weft-tests": 3,
}

# What another layer-2 crate's tests may link (dev-dependencies only).
TEST_FIXTURES = {"weft-sequencer", "weft-wallet"}

# Crates whose transitive normal dependencies must not contain these packages.
FORBIDDEN_BELOW = {
    "weft-protocol": ["axum", "sqlx-core", "alloy-provider", "tokio", "reqwest"],
    "weft-wallet": ["weft-sequencer", "weft-channel-hub", "weft-prover-stub", "axum",
                    "alloy-provider", "sqlx-postgres"],
    "weft-channel-hub": ["weft-sequencer", "weft-prover-stub"],
    "weft-prover-stub": ["weft-sequencer", "weft-channel-hub"],
    "weft-sequencer": ["weft-channel-hub", "weft-prover-stub"],
}


def cargo(*args):
    return subprocess.run(["cargo", *args], check=True, capture_output=True, text=True).stdout


def unused_dependencies(package):
    root = pathlib.Path(package["manifest_path"]).parent
    sources = "\n".join(
        path.read_text(errors="replace")
        for path in root.rglob("*.rs")
        if "target" not in path.parts
    )
    unused = []
    for dep in package["dependencies"]:
        name = (dep.get("rename") or dep["name"]).replace("-", "_")
        if dep["name"] == package["name"]:
            continue
        if not re.search(rf"\b{re.escape(name)}\b", sources):
            unused.append(f"{package['name']}: {dep['kind'] or 'normal'} dependency {dep['name']} "
                          "is never named in its sources (remove it)")
    return unused


def main():
    meta = json.loads(cargo("metadata", "--format-version", "1", "--no-deps"))
    members = {p["name"]: p for p in meta["packages"]}
    errors = []
    for name, package in sorted(members.items()):
        layer = LAYERS.get(name)
        if layer is None:
            errors.append(f"{name}: not placed in a layer (add it to LAYERS in tools/check-deps.py)")
            continue
        for dep in package["dependencies"]:
            target = dep["name"]
            if target not in members or (target == name and dep["kind"] == "dev"):
                continue
            kind = dep["kind"] or "normal"
            if kind == "dev" and target in TEST_FIXTURES and layer == LAYERS[target]:
                continue
            if LAYERS.get(target, 99) >= layer:
                errors.append(
                    f"{name} (layer {layer}) -> {target} (layer {LAYERS.get(target)}), "
                    f"{kind} dependency: dependencies point to lower layers only"
                )
    for package in members.values():
        errors.extend(unused_dependencies(package))
    for name, forbidden in FORBIDDEN_BELOW.items():
        if name not in members:
            continue
        tree = cargo("tree", "-p", name, "-e", "normal", "--prefix", "none", "--format", "{p}")
        present = {line.split(" ")[0] for line in tree.splitlines() if line.strip()}
        for bad in forbidden:
            if bad in present:
                errors.append(f"{name} pulls {bad} (cargo tree -p {name} -e normal -i {bad})")
    for line in errors:
        print(f"dependency rule: {line}")
    if errors:
        sys.exit(1)
    print(f"dependency rules hold for {len(members)} crates")


if __name__ == "__main__":
    main()
