// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @notice A hashlocked conditional payment inside a channel state (protocol/src/channel.rs
/// `Lock`). `direction` 0: from the wallet's side to the hub's on reveal; 1: the reverse.
struct ChannelLock {
    uint128 amount;
    bytes32 hashlock;
    uint64 expiry;
    uint8 direction;
}

/// @notice The co-signed channel state, field for field the EIP-712 `ChannelState` that
/// wallets and the hub sign for the rollup (the same domain: this contract is the domain's
/// `verifyingContract`), so a signature made for L2 verifies here unchanged.
struct ChannelState {
    bytes32 channelId;
    uint64 version;
    uint128 balanceWallet;
    uint128 balanceHub;
    ChannelLock[] locks;
    bool isFinal;
}

/// @notice The rollup's record of a channel, the fields of its leaf in the channels tree
/// (protocol/src/channel.rs, "Channel record leaf"). `wallet` and `hub` are L2 account
/// indexes; `status` is 0 Open, 1 Disputed, 2 Closed; `deadline` (an L2 block) and
/// `stateHash` (the registered state's EIP-712 hashStruct) are part of the leaf only when
/// Disputed and must be zero otherwise.
struct ChannelRecord {
    bytes32 id;
    uint32 wallet;
    uint32 hub;
    uint32 token;
    uint128 total;
    uint128 walletSide;
    uint128 hubSide;
    uint8 status;
    uint64 deadline;
    bytes32 stateHash;
}

/// @notice The channel encodings the L1 contract shares with the protocol: the EIP-712
/// hashStruct of a state, the channel record's leaf, and a state's total.
library Channels {
    uint8 internal constant OPEN = 0;
    uint8 internal constant DISPUTED = 1;
    uint8 internal constant CLOSED = 2;
    /// @dev protocol/src/channel.rs `MAX_LOCKS`.
    uint256 internal constant MAX_LOCKS = 64;

    bytes32 internal constant LOCK_TYPEHASH =
        keccak256("Lock(uint128 amount,bytes32 hashlock,uint64 expiry,uint8 direction)");
    bytes32 internal constant STATE_TYPEHASH = keccak256(
        "ChannelState(bytes32 channelId,uint64 version,uint128 balanceWallet,uint128 balanceHub,Lock[] locks,bool isFinal)"
        "Lock(uint128 amount,bytes32 hashlock,uint64 expiry,uint8 direction)"
    );

    /// @notice EIP-712 `hashStruct(state)`.
    function stateHash(ChannelState calldata s) internal pure returns (bytes32) {
        uint256 n = s.locks.length;
        bytes32[] memory lockHashes = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            ChannelLock calldata l = s.locks[i];
            lockHashes[i] = keccak256(abi.encode(LOCK_TYPEHASH, l.amount, l.hashlock, l.expiry, l.direction));
        }
        return keccak256(
            abi.encode(
                STATE_TYPEHASH,
                s.channelId,
                s.version,
                s.balanceWallet,
                s.balanceHub,
                keccak256(abi.encodePacked(lockHashes)),
                s.isFinal
            )
        );
    }

    /// @notice The record's leaf: keccak256 of the packed record, 93 bytes (Open, Closed) or
    /// 133 (Disputed: deadline and state hash appended); never 64 (Merkle.sol).
    function leafHash(ChannelRecord calldata r) internal pure returns (bytes32) {
        bytes memory packed =
            abi.encodePacked(r.id, r.wallet, r.hub, r.token, r.total, r.walletSide, r.hubSide, r.status);
        if (r.status == DISPUTED) packed = abi.encodePacked(packed, r.deadline, r.stateHash);
        return keccak256(packed);
    }

    /// @notice Both balances plus every lock (in 256 bits: no overflow for 64 locks).
    function total(ChannelState calldata s) internal pure returns (uint256 sum) {
        sum = uint256(s.balanceWallet) + s.balanceHub;
        for (uint256 i = 0; i < s.locks.length; ++i) {
            sum += s.locks[i].amount;
        }
    }
}
