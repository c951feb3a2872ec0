//! The proofs an exit of a frozen rollup needs for channels: `GET /v1/channels/{id}/proof`
//! (the record and both participants' accounts, from one state) and
//! `GET /v1/secrets/{hashlock}/proof`, each verified against the state root it names.

use std::time::Duration;

use weft_api::{ChannelProofView, SecretProofView};
use weft_protocol::{
    channel::{ChannelStatus, channel_id},
    primitives::{B256, keccak256},
    state::state_root_of,
    transaction::{ChannelOpen, RevealSecret, Transaction},
};
use weft_sequencer::config::GenesisConfig;

use super::{code, domain, start};

#[tokio::test]
async fn channel_and_secret_proofs_verify_against_the_state_root() {
    let (running, client, _dir) = start(|_| {}).await;
    let d = domain(&running);
    let (wallet, hub, revealer) = (
        GenesisConfig::dev_key(4),
        GenesisConfig::dev_key(5),
        GenesisConfig::dev_key(6),
    );
    let secret = B256::repeat_byte(0x5e);
    let open = Transaction::ChannelOpen(ChannelOpen {
        from: wallet.address(),
        hub: hub.address(),
        token: 0,
        amount: 1_000,
        fee: 1,
        nonce: 0,
    })
    .sign(&wallet, &d);
    let reveal = Transaction::RevealSecret(RevealSecret {
        from: revealer.address(),
        secret,
        fee: 1,
        nonce: 0,
    })
    .sign(&revealer, &d);
    for tx in [&open, &reveal] {
        let (status, v) = client.submit(tx).await;
        assert_eq!(status, 200, "{v}");
        let done = client
            .wait_executed(&tx.transaction.hash(&d), Duration::from_secs(10))
            .await;
        assert_eq!(done["receipt"]["status"], "success", "{done}");
    }

    let id = channel_id(&wallet.address(), &hub.address(), 0);
    let (status, v) = client.get(&format!("/v1/channels/{id}/proof")).await;
    assert_eq!(status, 200, "{v}");
    let view: ChannelProofView = serde_json::from_value(v).unwrap();
    let record = &view.channel.record;
    assert_eq!((record.id, record.total), (id, 1_000));
    assert_eq!(record.status, ChannelStatus::Open);
    assert_eq!(view.wallet.account.address, wallet.address());
    assert_eq!(view.hub.account.address, hub.address());
    assert_eq!(
        (view.wallet.index, view.hub.index),
        (record.wallet, record.hub)
    );
    for account in [&view.wallet, &view.hub] {
        assert!(account.verify(&view.state_root));
    }
    // The record is under the channels root that the account proofs' state root commits to.
    assert!(view.channel.verify(&view.wallet.channels_root));
    let p = &view.wallet;
    assert_eq!(
        state_root_of(
            &p.accounts_root().unwrap(),
            &p.channels_root,
            &p.secrets_root,
            &p.tokens_hash,
            p.queue_position
        ),
        view.state_root
    );

    let hashlock = keccak256(secret);
    let (status, v) = client.get(&format!("/v1/secrets/{hashlock}/proof")).await;
    assert_eq!(status, 200, "{v}");
    let secret_view: SecretProofView = serde_json::from_value(v).unwrap();
    assert_eq!(secret_view.proof.hashlock, hashlock);
    assert!(secret_view.proof.verify(&secret_view.secrets_root));
    let (_, now) = client
        .get(&format!("/v1/accounts/{}/proof", wallet.address()))
        .await;
    assert_eq!(
        now["secretsRoot"],
        serde_json::json!(secret_view.secrets_root)
    );

    for path in [
        format!("/v1/channels/{}/proof", B256::repeat_byte(1)),
        format!("/v1/secrets/{}/proof", B256::repeat_byte(1)),
    ] {
        let (status, v) = client.get(&path).await;
        assert_eq!((status, code(&v)), (404, "not_found"), "{path}");
    }
    let (status, v) = client.get("/v1/secrets/0x12/proof").await;
    assert_eq!((status, code(&v)), (400, "invalid_hash"));
    running.stop().await.unwrap();
}
