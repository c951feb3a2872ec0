// ethers v6 against the JSON-RPC endpoint: JsonRpcProvider (default request batching) and
// Wallet: an ETH transfer, a ContractFactory deploy, contract calls, and one batch of reads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRpcProvider, Wallet, ContractFactory, ZeroAddress } from 'ethers';
import { TIMEOUT, env, token } from './env.mjs';

// Blocks come every ~100 ms: poll faster than ethers' 4 s default (used by tx.wait()), and
// turn off its 250 ms result cache, which otherwise serves a stale nonce to back-to-back sends.
// Request batching stays at its default (on).
const provider = new JsonRpcProvider(env.rpcUrl, env.chainId, { pollingInterval: 100, cacheTimeout: -1 });
const wallet = new Wallet(env.devKey(2), provider);
const to = Wallet.createRandom().address;
const MINTED = 10_000n * 10n ** 18n;
const SENT = 2_500n * 10n ** 18n;
let contract, tokenAddr;

const mined = async (tx) => {
  const receipt = await tx.wait(1, TIMEOUT);
  assert.equal(receipt.status, 1);
  assert.equal(receipt.hash, tx.hash);
  return receipt;
};

before(async () => {
  assert.equal((await provider.getNetwork()).chainId, BigInt(env.chainId));
});
after(() => provider.destroy());

test('ETH transfer: sendTransaction, wait, getBalance', { timeout: TIMEOUT }, async () => {
  const payee = Wallet.createRandom().address;
  const nonce = await provider.getTransactionCount(wallet.address);
  const tx = await wallet.sendTransaction({ to: payee, value: 10n ** 15n });
  assert.equal(tx.nonce, nonce);
  const receipt = await mined(tx);
  assert.equal(receipt.from, wallet.address);
  assert.equal(receipt.to, payee);
  assert.equal(receipt.gasUsed, 21000n);
  assert.equal(await provider.getBalance(payee), 10n ** 15n);
  assert.equal(await provider.getTransactionCount(wallet.address), nonce + 1);
  const fetched = await provider.getTransaction(tx.hash);
  assert.equal(fetched.blockNumber, receipt.blockNumber);
  assert.equal(fetched.value, 10n ** 15n);
});

test('ContractFactory deploy of Token', { timeout: TIMEOUT }, async () => {
  const factory = new ContractFactory(token.abi, token.bytecode, wallet);
  contract = await factory.deploy('Ethers Token', 'ETK');
  const receipt = await mined(contract.deploymentTransaction());
  await contract.waitForDeployment();
  tokenAddr = await contract.getAddress();
  assert.equal(receipt.contractAddress, tokenAddr);
  assert.equal((await provider.getCode(tokenAddr)).toLowerCase(), token.deployedBytecode.toLowerCase());
  assert.equal(await contract.name(), 'Ethers Token');
  assert.equal(await contract.decimals(), 18n);
});

test('contract calls: mint, transfer, balanceOf and the Transfer event', { timeout: TIMEOUT }, async () => {
  const mint = await mined(await contract.mint(wallet.address, MINTED));
  assert.deepEqual(contract.interface.parseLog(mint.logs[0]).args.toArray(), [ZeroAddress, wallet.address, MINTED]);
  const transfer = await mined(await contract.transfer(to, SENT));
  assert.equal(transfer.logs.length, 1);
  assert.equal(transfer.logs[0].address, tokenAddr);
  const event = contract.interface.parseLog(transfer.logs[0]);
  assert.equal(event.name, 'Transfer');
  assert.deepEqual(event.args.toArray(), [wallet.address, to, SENT]);
  assert.equal(await contract.balanceOf(wallet.address), MINTED - SENT);
  assert.equal(await contract.balanceOf(to), SENT);
});

test('Promise.all of reads goes out as one JSON-RPC batch', { timeout: TIMEOUT }, async () => {
  const batches = [];
  const onDebug = (e) => {
    if (e.action === 'sendRpcPayload' && Array.isArray(e.payload)) batches.push(e.payload.map((p) => p.method));
  };
  await provider.on('debug', onDebug);
  try {
    const [blockNumber, ethBalance, mine, theirs, supply, nonce, code] = await Promise.all([
      provider.getBlockNumber(),
      provider.getBalance(wallet.address),
      contract.balanceOf(wallet.address),
      contract.balanceOf(to),
      contract.totalSupply(),
      provider.getTransactionCount(wallet.address),
      provider.getCode(tokenAddr),
    ]);
    assert.ok(blockNumber > 0);
    assert.ok(ethBalance > 0n);
    assert.deepEqual([mine, theirs, supply], [MINTED - SENT, SENT, MINTED]);
    assert.ok(nonce >= 4);
    assert.equal(code.toLowerCase(), token.deployedBytecode.toLowerCase());
  } finally {
    await provider.off('debug', onDebug);
  }
  const wanted = ['eth_blockNumber', 'eth_getBalance', 'eth_call', 'eth_getTransactionCount', 'eth_getCode'];
  assert.ok(batches.some((methods) => wanted.every((m) => methods.includes(m))),
    `expected one batch with ${wanted.join(', ')}; batches sent: ${JSON.stringify(batches)}`);
});
