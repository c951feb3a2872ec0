// viem against the JSON-RPC endpoint: HTTP for deploy/write/read/logs/blocks, a custom chain,
// the revert reason of a failing call, and a newHeads subscription over WebSocket.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  createPublicClient, createWalletClient, defineChain, http, webSocket, parseAbiItem,
  ContractFunctionRevertedError, zeroAddress, getAddress,
} from 'viem';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { TIMEOUT, env, token } from './env.mjs';

const chain = defineChain({
  id: env.chainId,
  name: 'Weft',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [env.rpcUrl], webSocket: [env.wsUrl] } },
});
const account = privateKeyToAccount(env.devKey(1));
// Blocks come every ~100 ms: poll receipts faster than viem's 4 s default.
const pub = createPublicClient({ chain, transport: http(env.rpcUrl), pollingInterval: 100 });
const wallet = createWalletClient({ account, chain, transport: http(env.rpcUrl) });
const { abi } = token;
const Transfer = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)');

const MINTED = 5_000n * 10n ** 18n;
const SENT = 1_234n * 10n ** 18n;
const to = privateKeyToAccount(generatePrivateKey()).address;
let tokenAddr, deployReceipt, transferReceipt;

const mined = async (hash) => {
  const receipt = await pub.waitForTransactionReceipt({ hash, timeout: TIMEOUT });
  assert.equal(receipt.status, 'success');
  return receipt;
};
const balanceOf = (who) => pub.readContract({ address: tokenAddr, abi, functionName: 'balanceOf', args: [who] });

before(async () => {
  assert.equal(await pub.getChainId(), env.chainId);
  const hash = await wallet.deployContract({ abi, bytecode: token.bytecode, args: ['Viem Token', 'VTK'] });
  deployReceipt = await mined(hash);
  tokenAddr = deployReceipt.contractAddress;
  assert.ok(tokenAddr);
});

test('writeContract mint and transfer, readContract balances and totalSupply', { timeout: TIMEOUT }, async () => {
  await mined(await wallet.writeContract({ address: tokenAddr, abi, functionName: 'mint', args: [account.address, MINTED] }));
  transferReceipt = await mined(await wallet.writeContract({ address: tokenAddr, abi, functionName: 'transfer', args: [to, SENT] }));
  assert.equal(await balanceOf(account.address), MINTED - SENT);
  assert.equal(await balanceOf(to), SENT);
  assert.equal(await pub.readContract({ address: tokenAddr, abi, functionName: 'totalSupply' }), MINTED);
  assert.equal(await pub.readContract({ address: tokenAddr, abi, functionName: 'symbol' }), 'VTK');
});

test('getLogs with the Transfer event over the deploy..transfer block range', { timeout: TIMEOUT }, async () => {
  const range = { fromBlock: deployReceipt.blockNumber, toBlock: transferReceipt.blockNumber };
  const logs = await pub.getLogs({ address: tokenAddr, event: Transfer, ...range });
  assert.deepEqual(logs.map((l) => l.args), [
    { from: zeroAddress, to: account.address, value: MINTED },
    { from: account.address, to, value: SENT },
  ]);
  assert.equal(logs[1].transactionHash, transferReceipt.transactionHash);
  assert.equal(logs[1].blockNumber, transferReceipt.blockNumber);
  // A topic filter on the indexed `to`.
  const toMe = await pub.getLogs({ address: tokenAddr, event: Transfer, args: { to }, ...range });
  assert.deepEqual(toMe.map((l) => l.transactionHash), [transferReceipt.transactionHash]);
});

test('estimateGas, ETH transfer, getBalance, getTransactionCount, getBlock with transactions', { timeout: TIMEOUT }, async () => {
  const payee = privateKeyToAccount(generatePrivateKey()).address;
  const ethGas = await pub.estimateGas({ account, to: payee, value: 1n });
  assert.ok(ethGas >= 21000n, `ETH transfer estimate ${ethGas}`);
  const nonce = await pub.getTransactionCount({ address: account.address });
  const hash = await wallet.sendTransaction({ to: payee, value: 777_000n });
  const receipt = await mined(hash);
  assert.equal(receipt.gasUsed, 21000n);
  assert.equal(await pub.getBalance({ address: payee }), 777_000n);
  assert.equal(await pub.getTransactionCount({ address: account.address }), nonce + 1);

  const block = await pub.getBlock({ blockNumber: receipt.blockNumber, includeTransactions: true });
  assert.equal(block.hash, receipt.blockHash);
  const tx = block.transactions.find((t) => t.hash === hash);
  assert.ok(tx, 'the block holds the transaction');
  assert.equal(getAddress(tx.from), account.address);
  assert.equal(getAddress(tx.to), payee);
  assert.equal(tx.value, 777_000n);
  assert.equal(tx.nonce, nonce);

  // A token transfer estimates above a plain transfer, and its estimate is enough gas.
  const args = [payee, 1n];
  const gas = await pub.estimateContractGas({ account, address: tokenAddr, abi, functionName: 'transfer', args });
  assert.ok(gas > ethGas, `token transfer estimate ${gas}`);
  const r = await mined(await wallet.writeContract({ address: tokenAddr, abi, functionName: 'transfer', args, gas }));
  assert.ok(r.gasUsed <= gas);
  assert.equal(await balanceOf(payee), 1n);
});

test('a reverting call surfaces the decoded custom error', { timeout: TIMEOUT }, async () => {
  const balance = await balanceOf(account.address);
  await assert.rejects(
    pub.simulateContract({ account, address: tokenAddr, abi, functionName: 'transfer', args: [to, balance + 1n] }),
    (err) => {
      const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
      assert.ok(revert, `expected a ContractFunctionRevertedError, got: ${err.message}`);
      assert.equal(revert.data?.errorName, 'ERC20InsufficientBalance');
      assert.deepEqual(revert.data.args, [account.address, balance, balance + 1n]);
      return true;
    },
  );
});

test('watchBlocks over WebSocket sees the block of a new transaction', { timeout: TIMEOUT }, async () => {
  const ws = createPublicClient({ chain, transport: webSocket(env.wsUrl) });
  const sent = new Set();
  let unwatch;
  try {
    const start = await ws.getBlockNumber(); // also opens the socket
    const seen = new Promise((resolve, reject) => {
      unwatch = ws.watchBlocks({
        onBlock: (block) => { if (block?.transactions.some((h) => sent.has(h))) resolve(block); },
        onError: reject,
      });
    });
    // The subscription is set up asynchronously: send until one of our blocks is reported.
    let block = null;
    while (!block) {
      const hash = await wallet.sendTransaction({ to, value: 1n });
      sent.add(hash);
      await mined(hash);
      block = await Promise.race([seen, new Promise((r) => setTimeout(r, 2_000, null))]);
    }
    assert.ok(block.number > start);
    assert.equal(block.hash, (await pub.getBlock({ blockNumber: block.number })).hash);
  } finally {
    unwatch?.();
    (await ws.transport.getRpcClient()).close();
  }
});
