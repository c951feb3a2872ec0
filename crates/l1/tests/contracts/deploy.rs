//! What a deployment refuses: forced-withdrawal deadlines that a correct sequencer cannot
//! meet (anyone could freeze the rollup with one `forceWithdraw`), and, outside a devnet, a
//! genesis that holds funds no deposit backs.

use weft_l1::{
    Rollup,
    Rollup::RollupErrors as E,
    deploy::{DeployError, DeployParams, MIN_PROVING_ALLOWANCE, ParamsError, deploy},
    testkit::{Devnet, DevnetConfig},
};
use weft_protocol::{genesis::dev_allocations, state::State};

/// Valid parameters on `dev`'s chain.
fn params(dev: &Devnet) -> DeployParams {
    DeployParams {
        sequencer: dev.sequencer(),
        prover: dev.prover.address(),
        genesis_state_root: State::new().state_root(),
        l2_chain_id: dev.config.l2_chain_id,
        forced_withdrawal_deadline: 86_400,
        finalization_delay: 3_600,
        test_token: false,
        dev_genesis: false,
    }
}

#[tokio::test]
async fn deploy_refuses_a_deadline_shorter_than_finalization_plus_proving() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    assert_eq!(
        dev.rollup.MIN_PROVING_ALLOWANCE().call().await.unwrap(),
        MIN_PROVING_ALLOWANCE
    );
    let ok = params(&dev);
    deploy(&dev.provider, &ok).await.expect("valid parameters");
    // The least deadline allowed.
    let exact = DeployParams {
        forced_withdrawal_deadline: ok.finalization_delay + MIN_PROVING_ALLOWANCE,
        ..ok.clone()
    };
    deploy(&dev.provider, &exact).await.expect("the minimum");

    for (deadline, delay) in [
        (0, 0),
        (100, 0),
        (3_600, 3_600),
        (86_400, 86_400),
        (u64::MAX, u64::MAX),
    ] {
        let p = DeployParams {
            forced_withdrawal_deadline: deadline,
            finalization_delay: delay,
            ..ok.clone()
        };
        let minimum = u128::from(delay) + u128::from(MIN_PROVING_ALLOWANCE);
        match deploy(&dev.provider, &p).await {
            Err(DeployError::Params(ParamsError::DeadlineTooShort { deadline: d, .. })) => {
                assert_eq!(d, deadline)
            }
            other => panic!("deadline {deadline} s, delay {delay} s: {other:?}"),
        }
        // The constructor refuses too, whoever deploys it.
        let err = Rollup::deploy_builder(
            dev.provider.clone(),
            dev.sequencer(),
            *dev.verifier.address(),
            p.genesis_state_root,
            p.l2_chain_id,
            deadline,
            delay,
        )
        .send()
        .await
        .expect_err("the constructor reverts");
        assert_eq!(
            err.as_decoded_interface_error::<E>(),
            Some(E::DeadlineTooShort(Rollup::DeadlineTooShort {
                deadline,
                minimum: alloy::primitives::U256::from(minimum),
            })),
            "deadline {deadline} s, delay {delay} s"
        );
    }
}

#[tokio::test]
async fn deploy_refuses_a_funded_genesis_outside_a_devnet() {
    let dev = Devnet::start(DevnetConfig::default()).await;
    let funded = State::genesis(&dev_allocations(2, 1_000), 1)
        .unwrap()
        .state_root();
    let p = DeployParams {
        genesis_state_root: funded,
        ..params(&dev)
    };
    match deploy(&dev.provider, &p).await {
        Err(DeployError::Params(ParamsError::FundedGenesis(root))) => assert_eq!(root, funded),
        other => panic!("{other:?}"),
    }
    // A devnet says so.
    let devnet = DeployParams {
        dev_genesis: true,
        ..p
    };
    let d = deploy(&dev.provider, &devnet).await.expect("a devnet");
    let rollup = Rollup::new(d.rollup, &dev.provider);
    assert_eq!(rollup.finalizedStateRoot().call().await.unwrap(), funded);
}
