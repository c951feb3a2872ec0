//! A channel's life besides routed payments, against a real sequencer and hub over HTTP:
//! the wallet's top-up, the operator's payment to a wallet, and the hub's funding
//! reservation, which lives exactly as long as its funding offer can be met.

mod common;

use std::time::Duration;

use common::{hub_config, key, l2_balance, sequencer, start_hub, wait_for, wallet};
use serde_json::{Value, json};
use weft_channel::{RegisterReply, SignedUpdate};
use weft_channel_hub::config::AdminToken;
use weft_protocol::{
    channel::{ChannelState, ChannelStatus, channel_id},
    eip712::Eip712,
    primitives::B256,
    transaction::{ChannelOpen, ChannelSettle, Transaction},
};

const TOKEN: &str = "operator-s3cret";

/// `POST` to the hub with an optional bearer token; the status and the JSON body.
async fn post(
    hub: &weft_channel_hub::Running,
    path: &str,
    bearer: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .post(format!("http://{}{path}", hub.addr))
        .json(body);
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Opens a channel of `amount` for dev key `i` on the rollup and registers it with the hub
/// by hand, taking no funding: the id, the opening state with the wallet's signature, and
/// the hub's reply (its signature and funding offer).
async fn open_unfunded(
    seq: &weft_sequencer::Running,
    hub: &weft_channel_hub::Running,
    i: u32,
    amount: u128,
) -> (B256, SignedUpdate, RegisterReply) {
    let rollup = weft_api::Client::new(&format!("http://{}", seq.addr));
    let domain = seq.node.domain;
    let wallet = key(i);
    let hub_address = hub.hub.address;
    let (hash, signed) = rollup
        .sign_and_submit(&wallet, &domain, |nonce| {
            Transaction::ChannelOpen(ChannelOpen {
                from: wallet.address(),
                hub: hub_address,
                token: 0,
                amount,
                fee: 0,
                nonce,
            })
        })
        .await
        .unwrap();
    rollup
        .wait_executed(&hash, Duration::from_secs(10))
        .await
        .unwrap();
    let Transaction::ChannelOpen(open) = &signed.transaction else {
        unreachable!()
    };
    let id = channel_id(&wallet.address(), &hub_address, open.nonce);
    let opening = ChannelState {
        channel_id: id,
        version: 1,
        balance_wallet: amount,
        balance_hub: 0,
        locks: vec![],
        is_final: false,
    };
    let update = SignedUpdate {
        wallet_signature: wallet.sign_digest(&opening.signing_hash(&domain)),
        state: opening,
    };
    let (status, reply) = post(
        hub,
        "/v1/channels",
        None,
        &serde_json::to_value(&update).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    (id, update, serde_json::from_value(reply).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_top_up_grows_the_channel_and_its_balance_pays() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let l2_before = l2_balance(&seq, &alice.address()).await;

    alice.top_up(&a, 5_000).await.unwrap();
    assert_eq!(l2_balance(&seq, &alice.address()).await, l2_before - 5_000);
    assert_eq!(seq.node.state.read().channel(&a).unwrap().total, 25_000);
    let latest = alice.channel(&a).unwrap().latest;
    assert_eq!(
        (latest.balance_wallet, latest.balance_hub),
        (15_000, 10_000)
    );
    // The hub's watcher sees the deposit on the rollup.
    wait_for("the hub to see the deposit", async || {
        hub.hub
            .view(&a, &alice.address())
            .await
            .unwrap()
            .rollup_total
            == 25_000
    })
    .await;

    // More than the channel held before the top-up.
    alice.pay_hub(&a, 12_000).await.unwrap();
    let view = hub.hub.view(&a, &alice.address()).await.unwrap();
    assert_eq!(
        (
            view.latest.state.balance_wallet,
            view.latest.state.balance_hub
        ),
        (3_000, 22_000)
    );
    assert_eq!(alice.channel(&a).unwrap().latest, view.latest.state);

    // The cooperative close pays the topped-up channel's split.
    alice.close_channel(&a, false).await.unwrap();
    assert_eq!(
        l2_balance(&seq, &alice.address()).await,
        l2_before - 5_000 + 3_000
    );
    alice.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// Audit issue 18, item 2: a deposit the hub never co-signed (one unit, with a state the
/// wallet alone signed) is refused by the rollup, so the channel's total stays what the
/// co-signed states split: the hub takes the next update (no `deposit_pending`), a top-up
/// it co-signed still goes through, and the cooperative close pays out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_deposit_is_refused_and_the_channel_goes_on() {
    use weft_protocol::transaction::ChannelDeposit;
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let domain = hub.hub.domain;
    let latest = alice.channel(&a).unwrap().latest;
    let mut grown = latest.clone();
    grown.version += 1;
    grown.balance_wallet += 1;
    let own = key(0).sign_digest(&grown.signing_hash(&domain));
    let rollup = weft_api::Client::new(&format!("http://{}", seq.addr));
    let (hash, _) = rollup
        .sign_and_submit(&key(0), &domain, |nonce| {
            Transaction::ChannelDeposit(ChannelDeposit {
                from: key(0).address(),
                channel_id: a,
                amount: 1,
                state: grown.clone(),
                wallet_signature: own.to_bytes().to_vec().into(),
                hub_signature: own.to_bytes().to_vec().into(),
                fee: 0,
                nonce,
            })
        })
        .await
        .unwrap();
    let refused = rollup.wait_executed(&hash, Duration::from_secs(10)).await;
    assert!(refused.is_err(), "the stray deposit executed: {refused:?}");
    assert_eq!(seq.node.state.read().channel(&a).unwrap().total, 20_000);

    // The hub's side is not stuck.
    alice.pay_hub(&a, 100).await.unwrap();
    alice.top_up(&a, 1).await.unwrap();
    assert_eq!(seq.node.state.read().channel(&a).unwrap().total, 20_001);
    alice.pay_hub(&a, 1).await.unwrap();
    let l2_before = l2_balance(&seq, &alice.address()).await;
    alice.close_channel(&a, false).await.unwrap();
    assert_eq!(
        l2_balance(&seq, &alice.address()).await,
        l2_before + 10_000 - 100
    );
    alice.close().await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_pays_a_wallet_through_the_admin_route_and_the_wallet_countersigns() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let mut config = hub_config(&dir.path().join("hub"), &seq);
    config.admin_token = AdminToken::new(TOKEN);
    let hub = weft_channel_hub::start(config).await.unwrap();
    let alice = wallet(0, &dir.path().join("alice"), &hub, &seq).await;
    let a = alice.open_channel(0, 10_000).await.unwrap();
    let path = format!("/v1/admin/channels/{a}/pay");
    let body = json!({ "amount": "700" });

    // No token, a wrong one, a malformed body: refused, nothing offered.
    let (status, v) = post(&hub, &path, None, &body).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("unauthorized")));
    let (status, v) = post(&hub, &path, Some("operator-s3cres"), &body).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("unauthorized")));
    let (status, v) = post(&hub, &path, Some(TOKEN), &json!({ "amount": 700 })).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("invalid_request")));
    assert!(
        hub.hub
            .view(&a, &alice.address())
            .await
            .unwrap()
            .offer
            .is_none()
    );
    // More than the hub holds in the channel: refused.
    let (status, v) = post(&hub, &path, Some(TOKEN), &json!({ "amount": "10001" })).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("insufficient_liquidity"))
    );

    let (status, offer) = post(&hub, &path, Some(TOKEN), &body).await;
    assert_eq!(status, 200, "{offer}");
    assert_eq!(offer["state"]["balanceWallet"], "10700");
    // Alice's client countersigns the offer on its WebSocket; both sides hold it.
    wait_for("the wallet's countersignature", async || {
        let view = hub.hub.view(&a, &alice.address()).await.unwrap();
        view.offer.is_none() && view.latest.state.balance_wallet == 10_700
    })
    .await;
    let latest = alice.channel(&a).unwrap().latest;
    assert_eq!((latest.balance_wallet, latest.balance_hub), (10_700, 9_300));
    assert_eq!(
        hub.hub
            .view(&a, &alice.address())
            .await
            .unwrap()
            .latest
            .state,
        latest
    );

    // And on the rollup, once closed.
    let before = l2_balance(&seq, &alice.address()).await;
    alice.close_channel(&a, true).await.unwrap();
    assert_eq!(l2_balance(&seq, &alice.address()).await - before, 10_700);
    alice.close().await;
    hub.stop().await.unwrap();

    // A hub without an admin token refuses the route whatever is presented.
    let hub = weft_channel_hub::start(hub_config(&dir.path().join("hub2"), &seq))
        .await
        .unwrap();
    let (status, v) = post(&hub, &path, Some(TOKEN), &body).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("admin_disabled")));
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funding_reservation_outlives_a_restart_and_ends_when_the_offer_cannot_be_met() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let config = hub_config(&dir.path().join("hub"), &seq);
    let hub = weft_channel_hub::start(config.clone()).await.unwrap();
    let rollup = weft_api::Client::new(&format!("http://{}", seq.addr));
    let domain = seq.node.domain;
    let alice = key(0);

    // Alice opens on the rollup and registers with the hub, but never takes its funding.
    let (id, opening, reply) = open_unfunded(&seq, &hub, 0, 4_000).await;
    let (opening, wallet_signature) = (opening.state, opening.wallet_signature);
    assert_eq!(reply.funding.unwrap().state.balance_hub, 4_000);
    assert_eq!(hub.hub.reserved_funding(0), 4_000);

    // A restart keeps the reservation: the offer still stands.
    hub.stop().await.unwrap();
    let hub = weft_channel_hub::start(config).await.unwrap();
    assert_eq!(hub.hub.reserved_funding(0), 4_000);

    // Alice starts a dispute with the opening state: the channel takes no more deposits,
    // so the offer can never be met and the reservation is released.
    let (hash, _) = rollup
        .sign_and_submit(&alice, &domain, |nonce| {
            Transaction::ChannelRegister(ChannelSettle {
                from: alice.address(),
                state: opening.clone(),
                wallet_signature: wallet_signature.to_bytes().to_vec().into(),
                hub_signature: reply.hub_signature.to_bytes().to_vec().into(),
                fee: 0,
                nonce,
            })
        })
        .await
        .unwrap();
    rollup
        .wait_executed(&hash, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(matches!(
        seq.node.state.read().channel(&id).unwrap().status,
        ChannelStatus::Disputed { .. }
    ));
    wait_for("the reservation's release", async || {
        hub.hub.reserved_funding(0) == 0
    })
    .await;
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funding_offer_countersigned_on_another_route_is_still_deposited() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let config = hub_config(&dir.path().join("hub"), &seq);
    let hub = weft_channel_hub::start(config.clone()).await.unwrap();
    let domain = seq.node.domain;
    let funded = |offer: &weft_channel::Offer, i: u32| SignedUpdate {
        wallet_signature: key(i).sign_digest(&offer.state.signing_hash(&domain)),
        state: offer.state.clone(),
    };
    let deposited = |id: &B256| seq.node.state.read().channel(id).unwrap().total;

    // Alice's client lost the /fund call and answers the offer re-sent on its socket: the
    // countersignature goes to /countersign.
    let (a, _, reply) = open_unfunded(&seq, &hub, 0, 3_000).await;
    let offer = reply.funding.unwrap();
    let (status, ack) = post(
        &hub,
        &format!("/v1/channels/{a}/countersign"),
        None,
        &serde_json::to_value(funded(&offer, 0)).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(deposited(&a), 6_000);
    let view = hub.hub.view(&a, &key(0).address()).await.unwrap();
    assert_eq!((view.latest.state, view.rollup_total), (offer.state, 6_000));

    // Bob's funding offer survives a hub restart; Bob presents it countersigned in a sync.
    let (b, _, reply) = open_unfunded(&seq, &hub, 1, 2_000).await;
    let offer = reply.funding.unwrap();
    hub.stop().await.unwrap();
    let hub = weft_channel_hub::start(config).await.unwrap();
    let update = funded(&offer, 1);
    let (status, synced) = post(
        &hub,
        &format!("/v1/channels/{b}/sync"),
        None,
        &json!({
            "state": update.state,
            "walletSignature": update.wallet_signature,
            "hubSignature": offer.hub_signature,
        }),
    )
    .await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(deposited(&b), 4_000);
    let view = hub.hub.view(&b, &key(1).address()).await.unwrap();
    assert_eq!(
        (view.status.as_str(), view.latest.state, view.rollup_total),
        ("active", offer.state, 4_000)
    );
    assert_eq!(hub.hub.reserved_funding(0), 0);
    hub.stop().await.unwrap();
    seq.stop().await.unwrap();
}

/// The hub serves the typed data a wallet signs for it, so any EIP-712 signer can: the
/// domain (the sequencer's) and `ChannelState` with its `Lock`, `HubRequest`, `HubLogin`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_serves_the_typed_data_wallets_sign() {
    let dir = tempfile::tempdir().unwrap();
    let seq = sequencer(&dir.path().join("seq")).await;
    let hub = start_hub(dir.path(), &seq).await;
    let types: Value = reqwest::get(format!("http://{}/v1/types", hub.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sequencer_types: Value = reqwest::get(format!("http://{}/v1/types", seq.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(types["domain"], sequencer_types["domain"]);
    let kinds = &types["kinds"];
    assert_eq!(kinds["channelState"]["primaryType"], "ChannelState");
    let channel_state = kinds["channelState"]["encodeType"].as_str().unwrap();
    assert!(
        channel_state.starts_with("ChannelState(bytes32 channelId,uint64 version,")
            && channel_state
                .contains("Lock(uint128 amount,bytes32 hashlock,uint64 expiry,uint8 direction)"),
        "{channel_state}"
    );
    assert!(kinds["channelState"]["types"]["Lock"].is_array(), "{types}");
    assert_eq!(
        kinds["hubRequest"]["encodeType"],
        "HubRequest(address wallet,string method,string path,uint64 timestamp)"
    );
    assert_eq!(
        kinds["hubLogin"]["encodeType"],
        "HubLogin(address wallet,bytes32 challenge)"
    );
}
