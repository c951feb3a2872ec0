// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @notice A counter; `burn(gasToLeave)` loops until little gas is left, for out-of-gas
/// outcomes, and `fail()` reverts with a reason.
contract Counter {
    uint256 public number;

    event Incremented(address indexed by, uint256 number);

    error Failed(uint256 number);

    function increment() external {
        number += 1;
        emit Incremented(msg.sender, number);
    }

    function fail() external view {
        revert Failed(number);
    }

    function spin() external {
        while (true) {
            number += 1;
        }
    }

    receive() external payable {}
}

/// @notice Deploys counters with CREATE and CREATE2 and uses them in the same transaction.
contract Creator {
    event Created(address counter);

    function create() external returns (address counter) {
        counter = address(new Counter());
        Counter(payable(counter)).increment();
        emit Created(counter);
    }

    function create2(bytes32 salt) external returns (address counter) {
        counter = address(new Counter{salt: salt}());
        Counter(payable(counter)).increment();
        emit Created(counter);
    }
}

/// @notice Self-destructs in its constructor (EIP-6780: the account is removed), sending
/// what it was given to `beneficiary`.
contract Ephemeral {
    constructor(address payable beneficiary) payable {
        selfdestruct(beneficiary);
    }
}

/// @notice A contract whose `destroy` self-destructs after creation (EIP-6780: only the
/// balance moves), and which deploys an `Ephemeral` on request.
contract Destroyer {
    function destroy(address payable to) external {
        selfdestruct(to);
    }

    function ephemeral(address payable beneficiary) external payable returns (address) {
        return address(new Ephemeral{value: msg.value}(beneficiary));
    }

    receive() external payable {}
}

/// @notice Records the fee recipient's balance as the EVM sees it.
contract CoinbaseReader {
    uint256 public seen;

    function read() external {
        seen = block.coinbase.balance;
    }
}
