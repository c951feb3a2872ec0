// Shared configuration for the JSON-RPC client tests: environment variables, the Token
// artifact, and small helpers. See README.md in this folder.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is tests/js/env.mjs). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Per-test timeout: the target seals a block every ~100 ms, but be generous. */
export const TIMEOUT = 60_000;

function required(name) {
  const value = process.env[name]?.trim();
  if (!value) {
    throw new Error(`environment variable ${name} is not set; the JSON-RPC client tests need ` +
      'WEFT_RPC_URL, WEFT_WS_URL, WEFT_CHAIN_ID and WEFT_DEV_KEYS (see tests/js/README.md)');
  }
  return value;
}

/** Read lazily, so a file only fails on the variables it uses. */
export const env = {
  get rpcUrl() { return required('WEFT_RPC_URL'); },
  get wsUrl() { return required('WEFT_WS_URL'); },
  get chainId() {
    const id = Number(required('WEFT_CHAIN_ID'));
    if (!Number.isSafeInteger(id) || id <= 0) throw new Error('WEFT_CHAIN_ID must be a positive integer');
    return id;
  },
  /** Funded dev key `i`: cast uses 0, viem 1, ethers 2 (so the files can run in parallel). */
  devKey(i) {
    const keys = required('WEFT_DEV_KEYS').split(',').map((k) => k.trim()).filter(Boolean);
    if (keys.length < 3) throw new Error(`WEFT_DEV_KEYS needs at least 3 comma-separated keys, got ${keys.length}`);
    for (const k of keys) {
      if (!/^0x[0-9a-fA-F]{64}$/.test(k)) throw new Error('WEFT_DEV_KEYS: each key must be 0x + 64 hex digits');
    }
    return keys[i];
  },
};

/** The committed OpenZeppelin ERC-20 test token: constructor(string name_, string symbol_), open mint. */
export const token = JSON.parse(
  readFileSync(new URL('../../crates/protocol/contracts/out/Token.json', import.meta.url), 'utf8'),
);

/** keccak256("Transfer(address,address,uint256)") */
export const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

/** A fresh, never-used address (lowercase hex). */
export const freshAddress = () => `0x${randomBytes(20).toString('hex')}`;

/** An address as a 32-byte log topic (lowercase). */
export const addressTopic = (addr) => `0x${addr.slice(2).toLowerCase().padStart(64, '0')}`;

/** A uint256 as 32-byte hex (lowercase). */
export const uint256Hex = (n) => `0x${BigInt(n).toString(16).padStart(64, '0')}`;
