// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @notice Weft's one Merkle rule (protocol/src/merkle.rs), line for line:
///
///     verify(leaf, index, siblings, root):
///         require index < 2^len(siblings)
///         h = leaf
///         for k in 0..len(siblings):
///             h = bit k of index == 0 ? keccak256(h ‖ siblings[k]) : keccak256(siblings[k] ‖ h)
///         return h == root
///
/// Leaves and inner nodes are hashed alike (no domain tag), which is safe only while no
/// leaf preimage is 64 bytes: an inner node is keccak256 of exactly 64 bytes (two child
/// hashes), so a leaf whose preimage had 64 bytes could be passed off as an inner node (a
/// proof one level short) or an inner node as such a leaf. Every leaf this contract checks
/// is hashed here from its fields, never taken as given, and none is 64 bytes:
/// - withdrawal leaf: `abi.encode(txHash, recipient, token, amount)`, 128 bytes;
/// - account leaf (exodus): `account ‖ nonce ‖ (token ‖ amount)*`, 28 + 20·n bytes, never 64;
/// - channel record (exodus of channels): 93 bytes, or 133 when Disputed;
/// - revealed secret (exodus of channels): `hashlock ‖ uint64 block`, 40 bytes.
/// Any new leaf kind must keep to this (weft-l1's `leaf_preimages_are_never_64_bytes` test
/// checks the protocol's encodings), or this library must tag leaves and nodes apart.
library Merkle {
    /// @dev The deepest tree the protocol supports (`merkle::MAX_DEPTH`).
    uint256 internal constant MAX_DEPTH = 64;

    /// @notice The root that `siblings` lead to from `leaf` at `index`; `ok` is false when
    /// the index does not fit the path (or the path is deeper than MAX_DEPTH).
    function rootOf(bytes32 leaf, uint256 index, bytes32[] calldata siblings)
        internal
        pure
        returns (bool ok, bytes32 root)
    {
        uint256 len = siblings.length;
        if (len > MAX_DEPTH || index >> len != 0) return (false, bytes32(0));
        root = leaf;
        for (uint256 k = 0; k < len; ++k) {
            bytes32 sibling = siblings[k];
            // Hash in scratch space: no memory expansion per level.
            assembly ("memory-safe") {
                switch and(shr(k, index), 1)
                case 0 {
                    mstore(0x00, root)
                    mstore(0x20, sibling)
                }
                default {
                    mstore(0x00, sibling)
                    mstore(0x20, root)
                }
                root := keccak256(0x00, 0x40)
            }
        }
        return (true, root);
    }

    /// @notice Whether `leaf` sits at `index` under `root`.
    function verify(bytes32 leaf, uint256 index, bytes32[] calldata siblings, bytes32 root)
        internal
        pure
        returns (bool)
    {
        (bool ok, bytes32 computed) = rootOf(leaf, index, siblings);
        return ok && computed == root;
    }
}
