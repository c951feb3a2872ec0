// Foundry's cast (the pinned npm build) against the JSON-RPC endpoint: deploy, mint and
// transfer an ERC-20, then read it back through receipts, logs, calls, code and storage.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { ROOT, TIMEOUT, env, token, TRANSFER_TOPIC, freshAddress, addressTopic, uint256Hex } from './env.mjs';

const CAST = join(ROOT, 'node_modules/.bin/cast');
const run = promisify(execFile);

/** Runs cast and returns its trimmed stdout. */
async function cast(...args) {
  try {
    const { stdout } = await run(CAST, args, { timeout: TIMEOUT, maxBuffer: 16 << 20 });
    return stdout.trim();
  } catch (err) {
    throw new Error(`cast ${args[0]} failed: ${err.stderr || err.message}`);
  }
}
/** cast <cmd> against the endpoint (options go first: cast takes trailing words as call args). */
const castRpc = (cmd, ...args) => cast(cmd, '--rpc-url', env.rpcUrl, ...args);
/** cast send from key 0; waits for and returns the receipt. */
const send = async (...args) => JSON.parse(await castRpc('send', '--private-key', env.devKey(0), '--json', ...args));
/** First word of cast's output as a BigInt (cast call appends e.g. " [1e21]"). */
const big = (out) => BigInt(out.split(/\s+/)[0]);

const MINTED = 1_000_000n * 10n ** 18n;
const SENT = 250_000n * 10n ** 18n;
let me; // key 0's address, lowercase
const to = freshAddress();
let tokenAddr, deployBlock, transfer;

before(async () => {
  me = (await cast('wallet', 'address', '--private-key', env.devKey(0))).toLowerCase();
});

test('deploy the token with cast send --create', { timeout: TIMEOUT }, async () => {
  const ctorArgs = await cast('abi-encode', 'constructor(string,string)', 'Cast Token', 'CTK');
  const receipt = await send('--create', token.bytecode + ctorArgs.slice(2));
  assert.equal(receipt.status, '0x1');
  assert.match(receipt.contractAddress, /^0x[0-9a-fA-F]{40}$/);
  tokenAddr = receipt.contractAddress.toLowerCase();
  deployBlock = BigInt(receipt.blockNumber);
  // OZ ERC20 has no immutables: the runtime code is exactly the artifact's.
  assert.equal((await castRpc('code', tokenAddr)).toLowerCase(), token.deployedBytecode.toLowerCase());
});

test('mint, transfer, balanceOf and the Transfer log in the receipt', { timeout: TIMEOUT }, async () => {
  const mint = await send(tokenAddr, 'mint(address,uint256)', me, MINTED.toString());
  assert.equal(mint.status, '0x1');
  transfer = await send(tokenAddr, 'transfer(address,uint256)', to, SENT.toString());
  assert.equal(transfer.status, '0x1');

  const balanceOf = (a) => castRpc('call', tokenAddr, 'balanceOf(address)(uint256)', a).then(big);
  assert.equal(await balanceOf(me), MINTED - SENT);
  assert.equal(await balanceOf(to), SENT);

  const receipt = JSON.parse(await castRpc('receipt', '--json', transfer.transactionHash));
  assert.equal(receipt.status, '0x1');
  assert.equal(receipt.transactionHash, transfer.transactionHash);
  assert.equal(receipt.logs.length, 1);
  const [log] = receipt.logs;
  assert.equal(log.address.toLowerCase(), tokenAddr);
  assert.equal(await cast('keccak', 'Transfer(address,address,uint256)'), TRANSFER_TOPIC);
  assert.deepEqual(log.topics.map((t) => t.toLowerCase()), [TRANSFER_TOPIC, addressTopic(me), addressTopic(to)]);
  assert.equal(BigInt(log.data), SENT);
});

test('cast logs and eth_getLogs filtered by address return the mint and the transfer', { timeout: TIMEOUT }, async () => {
  const range = ['--from-block', deployBlock.toString(), '--to-block', BigInt(transfer.blockNumber).toString()];
  const logs = JSON.parse(await castRpc('logs', '--json', ...range, '--address', tokenAddr, TRANSFER_TOPIC));
  const zero = addressTopic('0x' + '00'.repeat(20));
  const expected = [[zero, addressTopic(me), MINTED], [addressTopic(me), addressTopic(to), SENT]];
  assert.deepEqual(logs.map((l) => [l.topics[1].toLowerCase(), l.topics[2].toLowerCase(), BigInt(l.data)]), expected);
  assert.equal(logs[1].transactionHash, transfer.transactionHash);

  const filter = { address: tokenAddr, fromBlock: `0x${deployBlock.toString(16)}`, toBlock: transfer.blockNumber };
  const raw = JSON.parse(await castRpc('rpc', '--raw', 'eth_getLogs', JSON.stringify([filter])));
  assert.deepEqual(raw.map((l) => [l.topics[0], l.data]), [[TRANSFER_TOPIC, uint256Hex(MINTED)], [TRANSFER_TOPIC, uint256Hex(SENT)]]);
});

test('chain-id, block-number, storage (totalSupply in slot 2)', { timeout: TIMEOUT }, async () => {
  assert.equal(Number(await castRpc('chain-id')), env.chainId);
  assert.ok(BigInt(await castRpc('block-number')) >= BigInt(transfer.blockNumber));
  // OpenZeppelin ERC20 5.x layout: _balances 0, _allowances 1, _totalSupply 2.
  assert.equal(BigInt(await castRpc('storage', tokenAddr, '2')), MINTED);
  assert.equal(big(await castRpc('call', tokenAddr, 'totalSupply()(uint256)')), MINTED);
  assert.equal(await castRpc('code', freshAddress()), '0x');
});

test('ETH transfer with cast send --value: balance and nonce', { timeout: TIMEOUT }, async () => {
  const payee = freshAddress();
  const nonceBefore = BigInt(await castRpc('nonce', me));
  assert.equal(BigInt(await castRpc('balance', payee)), 0n);
  const receipt = await send('--value', '123456789', payee);
  assert.equal(receipt.status, '0x1');
  assert.equal(receipt.to.toLowerCase(), payee);
  assert.equal(BigInt(receipt.gasUsed), 21000n);
  assert.equal(BigInt(await castRpc('balance', payee)), 123456789n);
  assert.equal(BigInt(await castRpc('nonce', me)), nonceBefore + 1n);
});
