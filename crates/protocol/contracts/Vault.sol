// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @notice Weft's withdrawal predeploy (native, at a fixed address; docs/evm.md).
interface IWithdrawals {
    function withdraw(address l1Recipient) external payable;
}

/// @notice A contract that withdraws to L1 for its users: each deposits ETH, then sends
/// their balance to an L1 address through the predeploy.
contract Vault {
    IWithdrawals public constant WITHDRAWALS = IWithdrawals(0x5745465400000000000000000000000000000001);

    mapping(address => uint256) public balanceOf;

    error NothingDeposited();

    function deposit() external payable {
        balanceOf[msg.sender] += msg.value;
    }

    function withdrawTo(address l1Recipient) external {
        uint256 amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingDeposited();
        balanceOf[msg.sender] = 0;
        WITHDRAWALS.withdraw{value: amount}(l1Recipient);
    }

    /// Two withdrawals in one transaction: half to each recipient.
    function split(address a, address b) external {
        uint256 amount = balanceOf[msg.sender];
        if (amount < 2) revert NothingDeposited();
        balanceOf[msg.sender] = 0;
        WITHDRAWALS.withdraw{value: amount / 2}(a);
        WITHDRAWALS.withdraw{value: amount - amount / 2}(b);
    }
}
