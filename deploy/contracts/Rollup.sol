// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {ChannelRecord, ChannelState, Channels} from "./Channels.sol";
import {IBatchVerifier} from "./IBatchVerifier.sol";
import {Merkle} from "./Merkle.sol";

/// @notice The part of ERC-20 the rollup uses. Transfers are made with low-level calls so that
/// tokens which return nothing are supported too.
interface IERC20Minimal {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title Weft's L1 contract: the deposit queue, batch commitments, proofs, finality,
/// withdrawals and the exodus escape hatch.
///
/// @notice Lifecycle of a batch: `commitBatch` or `commitBatchBlobs` (sequencer) → `proveBatch` (any caller with a
/// valid proof) → `finalizeBatch` after `finalizationDelay` (anyone; with a zero delay the
/// proof finalizes at once). Batches move through each step strictly in index order, so
/// `lastFinalized <= lastProven <= lastCommitted` and a batch's status follows from them.
/// Until it is proven, the sequencer may take a commitment back (`revertBatches`).
///
/// The L1 queue (deposits, forced withdrawals) is a hash chain whose entries are the L2
/// transaction hashes of the system kinds: the EIP-712 digests under Weft's domain
/// `{name "Weft", version "1", chainId l2ChainId, verifyingContract this}`, so the sequencer,
/// the prover and this contract name every queue entry by the same 32 bytes.
///
/// If a forced withdrawal is not served by a finalized batch within
/// `forcedWithdrawalDeadline`, anyone may freeze the contract. Frozen, it accepts no
/// batches; users take their balances out with account proofs against the last finalized
/// state root, channels that state holds are settled on L1 (the record proven under the
/// channels root, then register, refute and conclude with the co-signed `ChannelState`, as
/// on L2), deposits not yet consumed by that state are refunded, and withdrawals of
/// finalized batches stay claimable. The deadline must leave a correct sequencer time to
/// serve a forced withdrawal: at least `finalizationDelay + MIN_PROVING_ALLOWANCE`.
///
/// Per token, `outstanding` is what was deposited less what was paid out (withdrawals,
/// exodus, refunds): it bounds the token's supply on L2, which must fit in 128 bits, and no
/// payout may exceed it, so a token's payouts can never reach another token's funds or more
/// of its own than was put in.
contract Rollup {
    // ------------------------------------------------------------------ types

    /// @notice What the sequencer posts for a run of L2 blocks (DESIGN.md, "Blocks, batches").
    struct BatchCommitment {
        uint64 index;
        uint64 fromBlock;
        uint64 toBlock;
        bytes32 prevStateRoot;
        bytes32 newStateRoot;
        bytes32 withdrawalsRoot;
        uint64 queuePosition;
        bytes32 queueHash;
        bytes32 daHash;
    }

    /// @notice What the contract keeps of a committed batch. Batch 0 is genesis.
    struct Batch {
        bytes32 commitmentHash;
        bytes32 newStateRoot;
        bytes32 withdrawalsRoot;
        uint64 toBlock;
        uint64 queuePosition;
        /// When it was proven (0 before).
        uint64 provenAt;
    }

    /// @notice One L1 queue entry, kept for exodus: `deadline` is non-zero exactly for
    /// forced withdrawals; `account` is the L1 depositor of a deposit (who a refund pays)
    /// or the account of a forced withdrawal; `amount` is zeroed once a deposit is refunded.
    struct QueueRecord {
        address account;
        uint32 token;
        uint64 deadline;
        uint128 amount;
    }

    /// @notice One balance of an account leaf.
    struct Balance {
        uint32 token;
        uint128 amount;
    }

    /// @notice The preimage of a state root: `keccak256(abi.encode(roots))` is the root.
    struct StateRoots {
        bytes32 accountsRoot;
        bytes32 channelsRoot;
        bytes32 secretsRoot;
        bytes32 tokensHash;
        uint64 queuePosition;
    }

    /// @notice An account leaf with its proof under `accountsRoot` (an account without code).
    struct AccountWitness {
        uint32 index;
        address account;
        uint64 nonce;
        Balance[] balances;
        bytes32[] siblings;
    }

    /// @notice A channel being settled on L1 while frozen. Until it is concluded, `toWallet`
    /// and `toHub` are what each side put in on L2 (paid if no state is ever registered);
    /// after, what each side is owed and not yet withdrawn.
    struct ChannelExit {
        address wallet;
        address hub;
        uint32 token;
        /// L1 timestamp: registrations and refutations up to it, conclusion after.
        uint64 deadline;
        uint64 version;
        bool registered;
        bool concluded;
        uint128 total;
        uint128 toWallet;
        uint128 toHub;
        /// EIP-712 hashStruct of the registered state.
        bytes32 stateHash;
    }

    enum BatchStatus {
        None,
        Committed,
        Proven,
        Finalized
    }

    // -------------------------------------------------------------- constants

    /// @notice `kind` of a QueueEntry event.
    uint8 public constant KIND_DEPOSIT = 0;
    /// @notice `kind` of a QueueEntry event.
    uint8 public constant KIND_FORCED_WITHDRAW = 1;

    bytes32 public constant DEPOSIT_TYPEHASH =
        keccak256("Deposit(uint64 queueIndex,address to,uint32 token,uint128 amount)");
    bytes32 public constant FORCED_WITHDRAW_TYPEHASH =
        keccak256("ForcedWithdraw(uint64 queueIndex,address account,uint32 token)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @dev protocol/src/state: 16 partitions of depth 28; proofs of 33 siblings: the
    /// partition path, the path over partitions, and the storage root (accountsRoot =
    /// keccak256(partitionsRoot ‖ storageRoot)). Bit 32 of the path is clear: the accounts
    /// half. Only accounts without code can exodus (their leaf has no code hash): ETH held
    /// by contracts stays in the frozen state (docs/evm.md).
    uint256 private constant PARTITION_BITS = 4;
    uint256 private constant PARTITION_DEPTH = 28;
    uint256 private constant ACCOUNT_PROOF_LEN = 33;
    /// @dev protocol/src/state `REGISTRY_DEPTH`: the channels and secrets trees.
    uint256 private constant REGISTRY_DEPTH = 32;
    /// @dev secp256k1n / 2 (EIP-2).
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice Most L2 blocks in one batch. It keeps `toBlock` far from `2^64 - 1`, so the next
    /// batch's `fromBlock = toBlock + 1` cannot overflow (2^44 full batches would be needed).
    uint64 public constant MAX_BATCH_BLOCKS = 1 << 20;
    /// @notice Most blobs a batch transaction carries: above any L1's per-transaction limit
    /// (6 since Osaka), it bounds the `BLOBHASH` scan.
    uint256 public constant MAX_BLOBS = 16;
    /// @notice Least time between a batch's finalization delay and the forced-withdrawal
    /// deadline: what a correct sequencer needs to include the entry, commit and prove it.
    uint64 public constant MIN_PROVING_ALLOWANCE = 1 hours;

    // ------------------------------------------------------------- immutables

    address public immutable sequencer;
    IBatchVerifier public immutable verifier;
    uint64 public immutable l2ChainId;
    /// @notice Seconds a forced withdrawal may wait before exodus can be activated.
    uint64 public immutable forcedWithdrawalDeadline;
    /// @notice Seconds between a batch's proof and its finalization.
    uint64 public immutable finalizationDelay;
    /// @notice Weft's EIP-712 domain separator for this deployment.
    bytes32 public immutable domainSeparator;

    // ------------------------------------------------------------------ state

    uint64 public lastCommitted;
    uint64 public lastProven;
    uint64 public lastFinalized;
    bool public frozen;

    mapping(uint64 => Batch) private _batches;

    /// @notice `queueHashes[0] = 0`, `queueHashes[i + 1] = keccak256(abi.encode(queueHashes[i], entryHash_i))`.
    bytes32[] public queueHashes;
    QueueRecord[] private _queue;

    /// @notice Token addresses by id; id 0 is ETH (`address(0)`).
    address[] public tokens;
    /// @notice Id of a registered ERC-20 (0 for ETH and for unregistered addresses).
    mapping(address => uint32) public tokenIdOf;
    /// @notice Per token id, deposits less payouts (withdrawals, exodus, refunds), capped at
    /// `type(uint128).max`: it bounds the token's supply on L2, which must fit in 128 bits
    /// (deposits still queued and withdrawals not yet claimed count too, so it never
    /// undercounts).
    mapping(uint32 => uint256) public outstanding;

    /// @notice Withdrawal leaves already paid.
    mapping(bytes32 => bool) public withdrawn;
    /// @notice Exodus payouts already made, per account and token.
    mapping(address => mapping(uint32 => bool)) public exodusClaimed;
    /// @notice The last finalized state root's preimage, once proven while frozen
    /// (`exodusProveRoots`); channel records and revealed secrets are proven against it.
    StateRoots public exodusRoots;
    bool public exodusRootsProven;
    /// @notice Channels settled on L1 while frozen, by channel id.
    mapping(bytes32 => ChannelExit) public channelExits;
    /// @notice Per hashlock, 1 + the L2 block its secret was revealed in (proven under the
    /// finalized secrets root), 0 if not proven.
    mapping(bytes32 => uint256) public l2RevealedAt;
    /// @notice Hashlocks whose secret was revealed to this contract while frozen.
    mapping(bytes32 => bool) public revealedOnL1;

    // ----------------------------------------------------------------- events

    event TokenRegistered(address token, uint32 id);
    /// @notice A queue entry. `account` is the L2 recipient of a deposit (kind 0) or the
    /// account of a forced withdrawal (kind 1, amount 0); `entryHash` is its L2 transaction
    /// hash and `queueHash` the chain after it (`queueHashes[queueIndex + 1]`).
    event QueueEntry(
        uint64 indexed queueIndex,
        uint8 kind,
        address account,
        uint32 token,
        uint128 amount,
        bytes32 entryHash,
        bytes32 queueHash
    );
    event BatchCommitted(uint64 indexed index, bytes32 commitmentHash, bytes32 newStateRoot, uint64 toBlock);
    event BatchProven(uint64 indexed index, bytes32 commitmentHash);
    event BatchFinalized(uint64 indexed index, bytes32 newStateRoot);
    /// @notice Batches `fromIndex..=toIndex` were committed, not proven, and are discarded:
    /// `lastCommitted` is `fromIndex - 1` and the next commit is `fromIndex` again.
    event BatchesReverted(uint64 fromIndex, uint64 toIndex);
    event Withdrawn(uint64 indexed batchIndex, bytes32 indexed leaf, address recipient, uint32 token, uint128 amount);
    event ExodusActivated(uint64 queueIndex);
    event ExodusWithdrawn(address indexed account, uint32 token, uint128 amount);
    event DepositRefunded(uint64 indexed queueIndex, address depositor, uint32 token, uint128 amount);
    event ChannelExitStarted(bytes32 indexed channelId, address wallet, address hub, uint64 deadline);
    event ChannelExitRegistered(bytes32 indexed channelId, uint64 version);
    event ChannelExitConcluded(bytes32 indexed channelId, uint128 toWallet, uint128 toHub);
    event ChannelExitWithdrawn(bytes32 indexed channelId, address to, uint32 token, uint128 amount);
    event SecretRevealed(bytes32 indexed hashlock, bytes32 secret);

    // ----------------------------------------------------------------- errors

    error ZeroAddress();
    error ZeroStateRoot();
    error NotSequencer();
    error Frozen();
    error NotFrozen();
    error ZeroAmount();
    error NotAToken(address token);
    error TooManyTokens();
    error UnknownToken(uint32 token);
    error DepositCapExceeded(uint32 token);
    error PayoutExceedsOutstanding(uint32 token, uint256 amount, uint256 outstanding);
    error DeadlineTooShort(uint64 deadline, uint256 minimum);
    error TransferFailed();
    error TransferAmountMismatch(uint256 expected, uint256 received);
    error BatchIndexMismatch(uint64 expected, uint64 got);
    error FromBlockMismatch(uint64 expected, uint64 got);
    error InvalidBlockRange(uint64 fromBlock, uint64 toBlock);
    error PrevStateRootMismatch(bytes32 expected, bytes32 got);
    error QueuePositionBackwards(uint64 previous, uint64 got);
    error QueuePositionBeyondQueue(uint64 queueLength, uint64 got);
    error QueueHashMismatch(bytes32 expected, bytes32 got);
    error DaHashMismatch(bytes32 expected, bytes32 got);
    error NoBlobs();
    error BatchOutOfOrder(uint64 expected, uint64 got);
    error BatchNotCommitted(uint64 index);
    error BatchNotProven(uint64 index);
    error BatchAlreadyProven(uint64 index);
    error InvalidAttestation();
    error FinalizationDelayPending(uint64 readyAt);
    error BatchNotFinalized(uint64 index);
    error InvalidProof();
    error AlreadyWithdrawn(bytes32 leaf);
    error QueueIndexOutOfRange(uint64 queueIndex);
    error NotAForcedWithdrawal(uint64 queueIndex);
    error DeadlineNotPassed(uint64 deadline);
    error ForcedWithdrawalServed(uint64 queueIndex);
    error NothingToWithdraw();
    error AlreadyClaimed(address account, uint32 token);
    error NotADeposit(uint64 queueIndex);
    error DepositConsumed(uint64 queueIndex);
    error AlreadyRefunded(uint64 queueIndex);
    error RootsNotProven();
    error ChannelExitExists(bytes32 channelId);
    error NoChannelExit(bytes32 channelId);
    error ChannelNotFunded(bytes32 channelId);
    error ExitDisputeExpired(uint64 deadline);
    error ExitDisputePending(uint64 deadline);
    error ExitConcluded(bytes32 channelId);
    error StaleVersion(uint64 registered, uint64 got);
    error TotalMismatch(uint256 expected, uint256 got);
    error TooManyLocks();
    error InvalidLockDirection();
    error InvalidCoSignature();
    error StateMismatch();

    // ------------------------------------------------------------ constructor

    constructor(
        address sequencer_,
        IBatchVerifier verifier_,
        bytes32 genesisStateRoot,
        uint64 l2ChainId_,
        uint64 forcedWithdrawalDeadline_,
        uint64 finalizationDelay_
    ) {
        if (sequencer_ == address(0) || address(verifier_) == address(0)) revert ZeroAddress();
        if (genesisStateRoot == bytes32(0)) revert ZeroStateRoot();
        // Otherwise a single forceWithdraw, even of a zero balance, could freeze the rollup
        // before a correct sequencer can finalize the batch that serves it.
        uint256 minimumDeadline = uint256(finalizationDelay_) + MIN_PROVING_ALLOWANCE;
        if (forcedWithdrawalDeadline_ < minimumDeadline) {
            revert DeadlineTooShort(forcedWithdrawalDeadline_, minimumDeadline);
        }
        sequencer = sequencer_;
        verifier = verifier_;
        l2ChainId = l2ChainId_;
        forcedWithdrawalDeadline = forcedWithdrawalDeadline_;
        finalizationDelay = finalizationDelay_;
        domainSeparator = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("Weft"), keccak256("1"), uint256(l2ChainId_), address(this))
        );
        // Batch 0 is genesis: finalized, block 0, nothing of the queue consumed.
        _batches[0].newStateRoot = genesisStateRoot;
        queueHashes.push(bytes32(0));
        tokens.push(address(0));
    }

    modifier notFrozen() {
        if (frozen) revert Frozen();
        _;
    }

    // ------------------------------------------------------------------ queue

    /// @notice Deposits `msg.value` wei of ETH (token 0) to `l2Recipient` on L2.
    function depositETH(address l2Recipient) external payable notFrozen {
        _enqueueDeposit(l2Recipient, 0, msg.value);
    }

    /// @notice Deposits `amount` of an ERC-20 to `l2Recipient` on L2; the token gets the next
    /// id on its first deposit. The contract must receive exactly `amount` (no fee-on-transfer
    /// tokens), after the caller's `approve`.
    function depositERC20(address token, uint128 amount, address l2Recipient) external notFrozen {
        if (amount == 0) revert ZeroAmount();
        if (token.code.length == 0) revert NotAToken(token);
        uint32 id = tokenIdOf[token];
        if (id == 0) {
            if (tokens.length > type(uint32).max) revert TooManyTokens();
            id = uint32(tokens.length);
            tokens.push(token);
            tokenIdOf[token] = id;
            emit TokenRegistered(token, id);
        }
        uint256 before = IERC20Minimal(token).balanceOf(address(this));
        _call(token, abi.encodeCall(IERC20Minimal.transferFrom, (msg.sender, address(this), amount)));
        uint256 received = IERC20Minimal(token).balanceOf(address(this)) - before;
        if (received != amount) revert TransferAmountMismatch(amount, received);
        _enqueueDeposit(l2Recipient, id, amount);
    }

    /// @notice Queues a forced withdrawal of the caller's whole L2 balance of `token`. If no
    /// finalized batch consumes it within `forcedWithdrawalDeadline`, exodus can be activated.
    function forceWithdraw(uint32 token) external notFrozen {
        if (token >= tokens.length) revert UnknownToken(token);
        uint64 queueIndex = uint64(_queue.length);
        uint64 deadline = uint64(block.timestamp) + forcedWithdrawalDeadline;
        _queue.push(QueueRecord({account: msg.sender, token: token, deadline: deadline, amount: 0}));
        bytes32 entryHash =
            _typedDigest(keccak256(abi.encode(FORCED_WITHDRAW_TYPEHASH, queueIndex, msg.sender, token)));
        _append(queueIndex, KIND_FORCED_WITHDRAW, msg.sender, token, 0, entryHash);
    }

    function _enqueueDeposit(address to, uint32 token, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 total = outstanding[token] + amount;
        if (total > type(uint128).max) revert DepositCapExceeded(token);
        outstanding[token] = total;
        uint64 queueIndex = uint64(_queue.length);
        _queue.push(QueueRecord({account: msg.sender, token: token, deadline: 0, amount: uint128(amount)}));
        bytes32 entryHash =
            _typedDigest(keccak256(abi.encode(DEPOSIT_TYPEHASH, queueIndex, to, token, uint128(amount))));
        _append(queueIndex, KIND_DEPOSIT, to, token, uint128(amount), entryHash);
    }

    function _append(uint64 queueIndex, uint8 kind, address account, uint32 token, uint128 amount, bytes32 entryHash)
        private
    {
        bytes32 queueHash = keccak256(abi.encode(queueHashes[queueIndex], entryHash));
        queueHashes.push(queueHash);
        emit QueueEntry(queueIndex, kind, account, token, amount, entryHash, queueHash);
    }

    /// @dev The EIP-712 signing digest: the L2 transaction hash of a system kind.
    function _typedDigest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", domainSeparator, structHash));
    }

    // ---------------------------------------------------------------- batches

    /// @notice Commits the next batch, its DA payload carried in calldata: `c.daHash` must be
    /// `keccak256(daPayload)`. Every field is checked against what the contract knows, so
    /// whatever the poster does, no batch is skipped, repeated, or built on another root, and
    /// no queue entry is skipped or forged.
    function commitBatch(BatchCommitment calldata c, bytes calldata daPayload) external notFrozen {
        _commit(c, keccak256(daPayload));
    }

    /// @notice Commits the next batch, its DA payload carried in this transaction's blobs
    /// (EIP-4844): `c.daHash` must be `keccak256(abi.encodePacked(h0, h1, ...))` over the
    /// versioned hashes of every blob of the transaction, in order (`BLOBHASH`), so the
    /// commitment records them. A versioned hash binds its blob through its KZG commitment;
    /// the prover reads the blobs (beacon API), checks them against these hashes, decodes
    /// the payload and re-executes it. Checked otherwise as `commitBatch`.
    function commitBatchBlobs(BatchCommitment calldata c) external notFrozen {
        _commit(c, _blobsHash());
    }

    /// @dev `keccak256` of the transaction's blob versioned hashes, concatenated in order.
    function _blobsHash() private view returns (bytes32) {
        uint256 count;
        while (count < MAX_BLOBS && blobhash(count) != bytes32(0)) ++count;
        if (count == 0) revert NoBlobs();
        bytes32[] memory hashes = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            hashes[i] = blobhash(i);
        }
        return keccak256(abi.encodePacked(hashes));
    }

    function _commit(BatchCommitment calldata c, bytes32 daHash) private {
        if (msg.sender != sequencer) revert NotSequencer();
        uint64 last = lastCommitted;
        if (c.index != last + 1) revert BatchIndexMismatch(last + 1, c.index);
        Batch storage prev = _batches[last];
        if (c.fromBlock != prev.toBlock + 1) revert FromBlockMismatch(prev.toBlock + 1, c.fromBlock);
        if (c.toBlock < c.fromBlock || c.toBlock - c.fromBlock >= MAX_BATCH_BLOCKS) {
            revert InvalidBlockRange(c.fromBlock, c.toBlock);
        }
        if (c.prevStateRoot != prev.newStateRoot) revert PrevStateRootMismatch(prev.newStateRoot, c.prevStateRoot);
        if (c.newStateRoot == bytes32(0)) revert ZeroStateRoot();
        if (c.queuePosition < prev.queuePosition) revert QueuePositionBackwards(prev.queuePosition, c.queuePosition);
        uint64 length = uint64(_queue.length);
        if (c.queuePosition > length) revert QueuePositionBeyondQueue(length, c.queuePosition);
        bytes32 expectedQueueHash = queueHashes[c.queuePosition];
        if (c.queueHash != expectedQueueHash) revert QueueHashMismatch(expectedQueueHash, c.queueHash);
        if (c.daHash != daHash) revert DaHashMismatch(daHash, c.daHash);

        bytes32 commitment = keccak256(abi.encode(c));
        _batches[c.index] = Batch({
            commitmentHash: commitment,
            newStateRoot: c.newStateRoot,
            withdrawalsRoot: c.withdrawalsRoot,
            toBlock: c.toBlock,
            queuePosition: c.queuePosition,
            provenAt: 0
        });
        lastCommitted = c.index;
        emit BatchCommitted(c.index, commitment, c.newStateRoot, c.toBlock);
    }

    /// @notice Sequencer only: discards the committed but unproven batches from `fromIndex`
    /// to `lastCommitted`, which becomes `fromIndex - 1`, so that a commitment the prover
    /// cannot prove (a wrong root, a malformed payload) does not stall the rollup until
    /// exodus. Proven and finalized batches are never reverted. Emits `BatchesReverted`.
    function revertBatches(uint64 fromIndex) external notFrozen {
        if (msg.sender != sequencer) revert NotSequencer();
        if (fromIndex <= lastProven) revert BatchAlreadyProven(fromIndex);
        uint64 last = lastCommitted;
        if (fromIndex > last) revert BatchNotCommitted(fromIndex);
        // The records above `lastCommitted` stay until overwritten: nothing reads them (the
        // `batch` view hides them), and deleting them would cost gas per batch.
        lastCommitted = fromIndex - 1;
        emit BatchesReverted(fromIndex, last);
    }

    /// @notice Proves the next committed batch with `proof`, checked by the verifier against
    /// `attestationDigest(commitmentHash)`. With a zero finalization delay it also finalizes.
    function proveBatch(uint64 index, bytes calldata proof) external notFrozen {
        uint64 expected = lastProven + 1;
        if (index != expected) revert BatchOutOfOrder(expected, index);
        if (index > lastCommitted) revert BatchNotCommitted(index);
        Batch storage b = _batches[index];
        if (!verifier.verify(attestationDigest(b.commitmentHash), proof)) revert InvalidAttestation();
        b.provenAt = uint64(block.timestamp);
        lastProven = index;
        emit BatchProven(index, b.commitmentHash);
        if (finalizationDelay == 0) _finalize(index, b);
    }

    /// @notice Finalizes the next proven batch once its delay has passed. Anyone may call.
    function finalizeBatch(uint64 index) external notFrozen {
        uint64 expected = lastFinalized + 1;
        if (index != expected) revert BatchOutOfOrder(expected, index);
        if (index > lastProven) revert BatchNotProven(index);
        Batch storage b = _batches[index];
        uint64 readyAt = b.provenAt + finalizationDelay;
        if (block.timestamp < readyAt) revert FinalizationDelayPending(readyAt);
        _finalize(index, b);
    }

    function _finalize(uint64 index, Batch storage b) private {
        lastFinalized = index;
        emit BatchFinalized(index, b.newStateRoot);
    }

    // ------------------------------------------------------------ withdrawals

    /// @notice Pays a withdrawal of a finalized batch, once. `leafIndex` and `proof` place the
    /// leaf `keccak256(abi.encode(txHash, recipient, uint256(token), uint256(amount)))` under
    /// the batch's withdrawals root. Allowed while frozen.
    function withdraw(
        uint64 batchIndex,
        bytes32 txHash,
        address recipient,
        uint32 token,
        uint128 amount,
        uint256 leafIndex,
        bytes32[] calldata proof
    ) external {
        if (batchIndex == 0 || batchIndex > lastFinalized) revert BatchNotFinalized(batchIndex);
        bytes32 leaf = keccak256(abi.encode(txHash, recipient, uint256(token), uint256(amount)));
        if (withdrawn[leaf]) revert AlreadyWithdrawn(leaf);
        if (!Merkle.verify(leaf, leafIndex, proof, _batches[batchIndex].withdrawalsRoot)) revert InvalidProof();
        withdrawn[leaf] = true;
        emit Withdrawn(batchIndex, leaf, recipient, token, amount);
        _pay(recipient, token, amount);
    }

    // ----------------------------------------------------------------- exodus

    /// @notice Freezes the contract if the forced withdrawal at `queueIndex` is past its
    /// deadline and no finalized batch has consumed it. Anyone may call.
    function activateExodus(uint64 queueIndex) external notFrozen {
        if (queueIndex >= _queue.length) revert QueueIndexOutOfRange(queueIndex);
        uint64 deadline = _queue[queueIndex].deadline;
        if (deadline == 0) revert NotAForcedWithdrawal(queueIndex);
        if (block.timestamp <= deadline) revert DeadlineNotPassed(deadline);
        if (_batches[lastFinalized].queuePosition > queueIndex) revert ForcedWithdrawalServed(queueIndex);
        frozen = true;
        emit ExodusActivated(queueIndex);
    }

    /// @notice While frozen, pays `account` its balance of `token` in the last finalized
    /// state, once per (account, token). The account leaf is
    /// `keccak256(abi.encodePacked(account, nonce, (balance.token, balance.amount)...))`
    /// with balances sorted by token (state.rs `Account::leaf_preimage`); `siblings` is the
    /// partition path then the path over partition roots (`State::account_proof`). Anyone
    /// may call; the funds go to `account`.
    function exodusWithdraw(
        uint32 accountIndex,
        address account,
        uint64 nonce,
        Balance[] calldata balances,
        uint32 token,
        bytes32[] calldata siblings,
        bytes32 channelsRoot,
        bytes32 secretsRoot,
        bytes32 tokensHash,
        uint64 queuePosition
    ) external {
        if (!frozen) revert NotFrozen();
        if (exodusClaimed[account][token]) revert AlreadyClaimed(account, token);
        // One expression, no named temporaries: the ten parameters already fill the stack.
        if (
            keccak256(
                abi.encode(
                    _accountsRoot(accountIndex, _accountLeaf(account, nonce, balances), siblings),
                    channelsRoot,
                    secretsRoot,
                    tokensHash,
                    uint256(queuePosition)
                )
            ) != _batches[lastFinalized].newStateRoot
        ) revert InvalidProof();
        uint128 amount = _balanceOf(balances, token);
        if (amount == 0) revert NothingToWithdraw();
        exodusClaimed[account][token] = true;
        emit ExodusWithdrawn(account, token, amount);
        _pay(account, token, amount);
    }

    /// @notice While frozen, returns a deposit that the last finalized state has not consumed
    /// to its L1 depositor, once. Anyone may call.
    function refundDeposit(uint64 queueIndex) external {
        if (!frozen) revert NotFrozen();
        if (queueIndex >= _queue.length) revert QueueIndexOutOfRange(queueIndex);
        QueueRecord storage entry = _queue[queueIndex];
        if (entry.deadline != 0) revert NotADeposit(queueIndex);
        if (queueIndex < _batches[lastFinalized].queuePosition) revert DepositConsumed(queueIndex);
        uint128 amount = entry.amount;
        if (amount == 0) revert AlreadyRefunded(queueIndex);
        entry.amount = 0;
        emit DepositRefunded(queueIndex, entry.account, entry.token, amount);
        _pay(entry.account, entry.token, amount);
    }

    // ------------------------------------------------------- exodus: channels
    //
    // A channel the last finalized state holds (Open or Disputed) is settled here as the
    // protocol settles it on L2 (protocol/src/execution/channels.rs), with L1 time in place of
    // L2 blocks: `exodusChannelStart` proves its record and both participants' accounts (for
    // their addresses), which opens an L1 dispute of `forcedWithdrawalDeadline` seconds;
    // during it either side registers a co-signed state of a higher version; after it,
    // `exodusChannelConclude` fixes the split and each side withdraws its part. If no state is
    // ever registered, each side gets back what it put in on L2. A state registered on L2 is
    // carried over; if its L2 dispute had ended when the chain stopped, it is final at once.
    //
    // A lock pays its receiver if its secret was revealed on L2 at or before its expiry
    // (proven with `exodusProveSecret`), or, for a lock that had not expired when the chain
    // stopped, revealed here (`exodusRevealSecret`) before the conclusion.

    /// @notice While frozen, records the last finalized state root's preimage. Anyone may call.
    function exodusProveRoots(StateRoots calldata roots) external {
        if (!frozen) revert NotFrozen();
        if (keccak256(abi.encode(roots)) != _batches[lastFinalized].newStateRoot) revert InvalidProof();
        exodusRoots = roots;
        exodusRootsProven = true;
    }

    /// @notice Starts the L1 settlement of the channel `record`, proven at `position` of the
    /// finalized channels tree, with both participants' account leaves (`registered` is the
    /// state a Disputed record holds; ignored for an Open one). Anyone may call.
    function exodusChannelStart(
        ChannelRecord calldata record,
        uint32 position,
        bytes32[] calldata siblings,
        AccountWitness calldata wallet,
        AccountWitness calldata hub,
        ChannelState calldata registered
    ) external {
        bytes32 channelsRoot = _provenRoots().channelsRoot;
        ChannelExit storage exit = channelExits[record.id];
        if (exit.wallet != address(0)) revert ChannelExitExists(record.id);
        if (siblings.length != REGISTRY_DEPTH || !Merkle.verify(Channels.leafHash(record), position, siblings, channelsRoot))
        {
            revert InvalidProof();
        }
        if (record.status == Channels.CLOSED || record.total == 0) revert ChannelNotFunded(record.id);
        if (wallet.index != record.wallet || hub.index != record.hub) revert InvalidProof();
        exit.wallet = _provenAccount(wallet);
        exit.hub = _provenAccount(hub);
        exit.token = record.token;
        exit.total = record.total;
        exit.toWallet = record.walletSide;
        exit.toHub = record.hubSide;
        uint64 deadline = uint64(block.timestamp) + forcedWithdrawalDeadline;
        if (record.status == Channels.DISPUTED) {
            if (Channels.stateHash(registered) != record.stateHash) revert StateMismatch();
            exit.registered = true;
            exit.version = registered.version;
            exit.stateHash = record.stateHash;
            // Refutable on L2 only in blocks up to its deadline: if the chain stopped at or
            // past it, the registered state is final.
            if (record.deadline <= _batches[lastFinalized].toBlock) deadline = 0;
        }
        exit.deadline = deadline;
        emit ChannelExitStarted(record.id, exit.wallet, exit.hub, deadline);
    }

    /// @notice Registers (or refutes with) a state co-signed by both participants, of a
    /// higher version than any registered, until the exit's deadline. Anyone may call.
    function exodusChannelRegister(ChannelState calldata s, bytes calldata walletSignature, bytes calldata hubSignature)
        external
    {
        ChannelExit storage exit = _startedExit(s.channelId);
        if (block.timestamp > exit.deadline) revert ExitDisputeExpired(exit.deadline);
        if (exit.registered && s.version <= exit.version) revert StaleVersion(exit.version, s.version);
        if (s.locks.length > Channels.MAX_LOCKS) revert TooManyLocks();
        uint256 total = uint256(s.balanceWallet) + s.balanceHub;
        for (uint256 i = 0; i < s.locks.length; ++i) {
            if (s.locks[i].direction > 1) revert InvalidLockDirection();
            total += s.locks[i].amount;
        }
        if (total != exit.total) revert TotalMismatch(exit.total, total);
        bytes32 hash = Channels.stateHash(s);
        bytes32 digest = _typedDigest(hash);
        if (_signer(digest, walletSignature) != exit.wallet || _signer(digest, hubSignature) != exit.hub) {
            revert InvalidCoSignature();
        }
        exit.registered = true;
        exit.version = s.version;
        exit.stateHash = hash;
        emit ChannelExitRegistered(s.channelId, s.version);
    }

    /// @notice After the deadline, fixes what each side is owed: the registered state `s`
    /// (its balances, each lock to its receiver if its secret counts as revealed, see above),
    /// or each side's L2 deposits if none was registered (`s` is then ignored). Anyone may call.
    function exodusChannelConclude(bytes32 channelId, ChannelState calldata s) external {
        ChannelExit storage exit = _startedExit(channelId);
        if (exit.concluded) revert ExitConcluded(channelId);
        if (block.timestamp <= exit.deadline) revert ExitDisputePending(exit.deadline);
        exit.concluded = true;
        if (exit.registered) {
            if (Channels.stateHash(s) != exit.stateHash) revert StateMismatch();
            (exit.toWallet, exit.toHub) = _split(s);
        }
        emit ChannelExitConcluded(channelId, exit.toWallet, exit.toHub);
    }

    /// @notice Pays one side of a concluded exit its part, once. Anyone may call; the funds go
    /// to the participant.
    function exodusChannelWithdraw(bytes32 channelId, bool hubSide) external {
        ChannelExit storage exit = _startedExit(channelId);
        if (!exit.concluded) revert ExitDisputePending(exit.deadline);
        (address to, uint128 amount) = hubSide ? (exit.hub, exit.toHub) : (exit.wallet, exit.toWallet);
        if (amount == 0) revert NothingToWithdraw();
        if (hubSide) exit.toHub = 0;
        else exit.toWallet = 0;
        emit ChannelExitWithdrawn(channelId, to, exit.token, amount);
        _pay(to, exit.token, amount);
    }

    /// @notice Records that `hashlock`'s secret was revealed on L2 in block `revealBlock`: its
    /// leaf `keccak256(hashlock ‖ uint64 revealBlock)` at `position` of the finalized secrets
    /// tree. Anyone may call.
    function exodusProveSecret(bytes32 hashlock, uint64 revealBlock, uint32 position, bytes32[] calldata siblings)
        external
    {
        bytes32 leaf = keccak256(abi.encodePacked(hashlock, revealBlock));
        if (siblings.length != REGISTRY_DEPTH || !Merkle.verify(leaf, position, siblings, _provenRoots().secretsRoot)) {
            revert InvalidProof();
        }
        l2RevealedAt[hashlock] = uint256(revealBlock) + 1;
    }

    /// @notice While frozen, reveals a secret: it pays the unexpired locks of its hashlock in
    /// exits concluded after this. Anyone may call.
    function exodusRevealSecret(bytes32 secret) external {
        if (!frozen) revert NotFrozen();
        bytes32 hashlock = keccak256(abi.encodePacked(secret));
        revealedOnL1[hashlock] = true;
        emit SecretRevealed(hashlock, secret);
    }

    function _provenRoots() private view returns (StateRoots storage) {
        if (!exodusRootsProven) revert RootsNotProven();
        return exodusRoots;
    }

    function _startedExit(bytes32 channelId) private view returns (ChannelExit storage exit) {
        exit = channelExits[channelId];
        if (exit.wallet == address(0)) revert NoChannelExit(channelId);
    }

    /// @dev The address of an account leaf proven under the finalized accounts root.
    function _provenAccount(AccountWitness calldata w) private view returns (address) {
        bytes32 leaf = _accountLeaf(w.account, w.nonce, w.balances);
        if (_accountsRoot(w.index, leaf, w.siblings) != exodusRoots.accountsRoot) revert InvalidProof();
        return w.account;
    }

    /// @dev The registered state's payout: balances, then each lock to its receiver or back.
    function _split(ChannelState calldata s) private view returns (uint128 toWallet, uint128 toHub) {
        (toWallet, toHub) = (s.balanceWallet, s.balanceHub);
        uint64 lastBlock = _batches[lastFinalized].toBlock;
        for (uint256 i = 0; i < s.locks.length; ++i) {
            uint256 at = l2RevealedAt[s.locks[i].hashlock];
            bool revealed = (at != 0 && at - 1 <= s.locks[i].expiry)
                || (s.locks[i].expiry > lastBlock && revealedOnL1[s.locks[i].hashlock]);
            // direction 0: wallet → hub on reveal; 1: hub → wallet on reveal.
            if (revealed == (s.locks[i].direction == 0)) toHub += s.locks[i].amount;
            else toWallet += s.locks[i].amount;
        }
    }

    /// @dev The signer of an EIP-712 digest: 65 bytes `r ‖ s ‖ v`, `v` in {0, 1, 27, 28} as
    /// the protocol accepts (signature.rs), `s` low (EIP-2); `address(0)` for anything else.
    function _signer(bytes32 digest, bytes calldata sig) private pure returns (address) {
        if (sig.length != 65) return address(0);
        uint8 v = uint8(sig[64]);
        if (v < 27) v += 27;
        if ((v != 27 && v != 28) || uint256(bytes32(sig[32:64])) > HALF_N) return address(0);
        return ecrecover(digest, v, bytes32(sig[0:32]), bytes32(sig[32:64]));
    }

    /// @dev The packed account preimage, built in place: 20 + 8 bytes, then 4 + 16 per balance.
    /// Balances need no sortedness check: the encoding is fixed-width, so any other list
    /// hashes to another leaf and fails the proof.
    function _accountLeaf(address account, uint64 nonce, Balance[] calldata balances)
        private
        pure
        returns (bytes32 leaf)
    {
        uint256 n = balances.length;
        bytes memory preimage = new bytes(28 + 20 * n);
        assembly ("memory-safe") {
            let p := add(preimage, 0x20)
            mstore(p, shl(96, account))
            mstore(add(p, 20), shl(192, nonce))
        }
        for (uint256 i = 0; i < n; ++i) {
            uint256 word = (uint256(balances[i].token) << 224) | (uint256(balances[i].amount) << 96);
            // Each write spills 12 bytes past its 20; the next one (or the free area) absorbs them.
            assembly ("memory-safe") {
                mstore(add(add(preimage, 60), mul(i, 20)), word)
            }
        }
        leaf = keccak256(preimage);
    }

    /// @dev Account `i` sits at `(i / 16) | ((i % 16) << 28)` (state.rs `proof_path`).
    function _accountsRoot(uint32 accountIndex, bytes32 leaf, bytes32[] calldata siblings)
        private
        pure
        returns (bytes32 root)
    {
        if (siblings.length != ACCOUNT_PROOF_LEN) revert InvalidProof();
        uint256 path = (uint256(accountIndex) >> PARTITION_BITS)
            | (uint256(accountIndex & uint32((1 << PARTITION_BITS) - 1)) << PARTITION_DEPTH);
        bool ok;
        (ok, root) = Merkle.rootOf(leaf, path, siblings);
        if (!ok) revert InvalidProof();
    }

    function _balanceOf(Balance[] calldata balances, uint32 token) private pure returns (uint128) {
        for (uint256 i = 0; i < balances.length; ++i) {
            if (balances[i].token == token) return balances[i].amount;
        }
        return 0;
    }

    // --------------------------------------------------------------- payments

    /// @dev Every payout goes through here: it is taken off `outstanding` first, so no token
    /// pays out more than was deposited of it.
    function _pay(address to, uint32 token, uint256 amount) private {
        uint256 left = outstanding[token];
        if (amount > left) revert PayoutExceedsOutstanding(token, amount, left);
        outstanding[token] = left - amount;
        if (token == 0) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            if (token >= tokens.length) revert UnknownToken(token);
            _call(tokens[token], abi.encodeCall(IERC20Minimal.transfer, (to, amount)));
        }
    }

    /// @dev An ERC-20 call that must not revert and, if it returns data, must return true.
    /// The token must have code: a call to an address without code succeeds and returns
    /// nothing, which would pass for a token that returns nothing (a token can lose its code
    /// after registration: self-destructed in its creation transaction, or metamorphic).
    function _call(address token, bytes memory data) private {
        if (token.code.length == 0) revert NotAToken(token);
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length != 0 && (ret.length != 32 || abi.decode(ret, (uint256)) != 1))) {
            revert TransferFailed();
        }
    }

    // ------------------------------------------------------------------ views

    /// @notice Number of L1 queue entries.
    function queueLength() external view returns (uint64) {
        return uint64(_queue.length);
    }

    /// @notice The record of queue entry `queueIndex`.
    function queueEntry(uint64 queueIndex) external view returns (QueueRecord memory) {
        if (queueIndex >= _queue.length) revert QueueIndexOutOfRange(queueIndex);
        return _queue[queueIndex];
    }

    /// @notice Number of registered tokens, ETH included.
    function tokenCount() external view returns (uint32) {
        return uint32(tokens.length);
    }

    /// @notice What the contract keeps of batch `index` (zeros if not committed, or reverted).
    function batch(uint64 index) external view returns (Batch memory b) {
        if (index <= lastCommitted) b = _batches[index];
    }

    /// @notice Where batch `index` stands. Batch 0 (genesis) is finalized.
    function batchStatus(uint64 index) external view returns (BatchStatus) {
        if (index <= lastFinalized) return BatchStatus.Finalized;
        if (index <= lastProven) return BatchStatus.Proven;
        if (index <= lastCommitted) return BatchStatus.Committed;
        return BatchStatus.None;
    }

    /// @notice The state root of the last finalized batch (the genesis root before any).
    function finalizedStateRoot() external view returns (bytes32) {
        return _batches[lastFinalized].newStateRoot;
    }

    /// @notice `keccak256(abi.encode(c))`.
    function commitmentHash(BatchCommitment calldata c) external pure returns (bytes32) {
        return keccak256(abi.encode(c));
    }

    /// @notice What a batch proof attests: the commitment, bound to this deployment and L1 chain.
    function attestationDigest(bytes32 commitment) public view returns (bytes32) {
        return keccak256(abi.encode(address(this), block.chainid, commitment));
    }
}
