// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IBatchVerifier} from "./IBatchVerifier.sol";

/// @notice The validity-proof stub: a batch is valid when the registered prover signed its
/// digest. The proof is the 65-byte `r ‖ s ‖ v` signature over the raw digest (no
/// `eth_sign` prefix), `v` in {27, 28} only (not 0 or 1, which would be a second encoding of
/// the same signature), `s` in the lower half of the group order (EIP-2, which rules out the
/// high-s twin), so every attestation has exactly one encoding.
contract EcdsaAttestationVerifier is IBatchVerifier {
    /// @dev secp256k1n / 2.
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice The address whose signatures attest batches.
    address public immutable prover;

    error ZeroProver();

    constructor(address prover_) {
        if (prover_ == address(0)) revert ZeroProver();
        prover = prover_;
    }

    /// @inheritdoc IBatchVerifier
    function verify(bytes32 digest, bytes calldata proof) external view returns (bool) {
        if (proof.length != 65) return false;
        bytes32 r = bytes32(proof[0:32]);
        bytes32 s = bytes32(proof[32:64]);
        uint8 v = uint8(proof[64]);
        if (v != 27 && v != 28) return false;
        if (uint256(s) > HALF_N) return false;
        address signer = ecrecover(digest, v, r, s);
        return signer != address(0) && signer == prover;
    }
}
