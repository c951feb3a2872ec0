// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @notice Checks a batch's validity proof. The attestation stub below verifies an ECDSA
/// signature by a registered prover; a SNARK verifier implements the same interface.
interface IBatchVerifier {
    /// @param digest `keccak256(abi.encode(rollup, block.chainid, commitmentHash))`.
    /// @param proof The proof bytes (an attestation, or a SNARK proof).
    /// @return Whether `proof` proves the batch committed to by `digest`.
    function verify(bytes32 digest, bytes calldata proof) external view returns (bool);
}
