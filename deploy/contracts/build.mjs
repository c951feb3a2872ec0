// Compiles every Solidity source in this folder with the pinned solcjs (package.json) into
// out/<Contract>.json: { contractName, sourceName, compiler, abi, bytecode, deployedBytecode }.
// The output is deterministic (sorted sources, fixed settings, stable JSON), so the artifacts
// are committed and `make contracts` fails when they differ from a fresh build.
//
// Usage: node deploy/contracts/build.mjs [folder]   (from anywhere; the folder defaults to
// this one, and crates/protocol/contracts holds the EVM test and benchmark contracts).
// Imports of `@openzeppelin/...` resolve to the pinned npm package.

import { readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

// The compiler every artifact is built with; package.json pins the same version.
const SOLC_VERSION = "0.8.28";
// Supported by anvil 1.7.1's default hardfork; cancun brings transient storage and mcopy.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const here = process.argv[2] ? resolve(process.argv[2]) : dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "out");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

// Only the pinned OpenZeppelin package may be imported from outside the folder.
function findImports(path) {
  if (!path.startsWith("@openzeppelin/contracts/")) return { error: `import outside the folder: ${path}` };
  return { contents: readFileSync(join(root, "node_modules", path), "utf8") };
}

const version = solc.version();
if (!version.startsWith(`${SOLC_VERSION}+`)) {
  console.error(`solc ${version} found, ${SOLC_VERSION} expected: run \`npm ci\` at the repository root`);
  process.exit(1);
}

const sources = {};
for (const file of readdirSync(here).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: readFileSync(join(here, file), "utf8") };
}

const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings: SETTINGS }), { import: findImports }));
// Warnings allowed: 5159, "selfdestruct has been deprecated": the EVM test contracts
// exercise EIP-6780 on purpose (the L1 contracts never self-destruct).
const ALLOWED_WARNINGS = new Set(["5159"]);
const diagnostics = (output.errors ?? []).filter(
  (d) => !(d.severity === "warning" && ALLOWED_WARNINGS.has(d.errorCode)),
);
for (const d of diagnostics) console.error(d.formattedMessage ?? d.message);
// Warnings fail the build as well: the sources are kept warning-free.
if (diagnostics.length > 0) process.exit(1);

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir);
const written = [];
for (const sourceName of Object.keys(output.contracts).sort()) {
  // Imported library sources are compiled, not shipped.
  if (!(sourceName in sources)) continue;
  for (const [contractName, c] of Object.entries(output.contracts[sourceName]).sort(([a], [b]) => a.localeCompare(b))) {
    // Internal libraries have no ABI and are inlined: nothing to bind or deploy.
    if (c.abi.length === 0) continue;
    const artifact = {
      contractName,
      sourceName,
      compiler: version,
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    };
    writeFileSync(join(outDir, `${contractName}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
    written.push(`${contractName} (${c.evm.deployedBytecode.object.length / 2} bytes)`);
  }
}
console.log(`solc ${version}: ${written.join(", ")}`);
