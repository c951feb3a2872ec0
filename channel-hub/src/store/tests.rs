//! Every test body runs on SQLite, then on a fresh PostgreSQL database when `DATABASE_URL`
//! names a server (`weft_storage::testkit`).

use weft_protocol::{
    channel::{ChannelState, Lock, LockDirection},
    primitives::keccak256,
    signature::SigningKey,
};
use weft_storage::testkit::{TestDatabase, on_every_backend};

use super::*;

async fn connect(db: &TestDatabase) -> HubStore {
    HubStore::connect(db.url(), db.dir())
        .await
        .expect("connect")
}

const ID: B256 = B256::repeat_byte(0x11);

fn state(version: u64, wallet: Amount) -> ChannelState {
    ChannelState {
        channel_id: ID,
        version,
        balance_wallet: wallet,
        balance_hub: 100 - wallet,
        locks: vec![],
        is_final: false,
    }
}

fn signature(state: &ChannelState) -> Signature {
    SigningKey::from_seed(b"store test wallet").sign_digest(&state.struct_hash())
}

async fn open_channel(store: &HubStore) {
    let s = state(1, 60);
    store
        .commit(vec![
            Write::Channel {
                id: ID,
                wallet: Address::repeat_byte(0xaa),
                token: 0,
                registered_at: 1,
            },
            Write::State {
                state: s.clone(),
                purpose: "open",
                payment: None,
            },
            Write::WalletSignature {
                channel_id: ID,
                version: 1,
                signature: signature(&s),
            },
        ])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_state_with_a_signed_version_is_refused() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        open_channel(&store).await;
        let first = state(2, 50);
        store
            .commit(vec![Write::State {
                state: first.clone(),
                purpose: "pay",
                payment: None,
            }])
            .await
            .unwrap();
        let other = state(2, 40);
        let refused = store
            .commit(vec![Write::State {
                state: other,
                purpose: "pay",
                payment: None,
            }])
            .await;
        assert!(
            matches!(refused, Err(StoreError::Database(_))),
            "{refused:?}"
        );
        let states = store.states(&ID).await.unwrap();
        assert_eq!(states.len(), 2);
        assert_eq!(states[1].state, first);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_failing_write_fails_only_its_own_commit_in_a_group() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        open_channel(&store).await;
        // Many concurrent commits, one of them a duplicate version: they share groups.
        let mut tasks = Vec::new();
        for v in 2..40u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let s = state(v, 50);
                store
                    .commit(vec![Write::State {
                        state: s,
                        purpose: "pay",
                        payment: None,
                    }])
                    .await
            }));
        }
        let dup = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .commit(vec![Write::State {
                        state: state(1, 10),
                        purpose: "pay",
                        payment: None,
                    }])
                    .await
            })
        };
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(dup.await.unwrap().is_err());
        assert_eq!(store.states(&ID).await.unwrap().len(), 39);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn channels_load_with_their_latest_agreed_state_and_offer() {
    on_every_backend(async |db| {
        let store = connect(db).await;
        open_channel(&store).await;
        let hashlock = keccak256(b"secret");
        let co_signed = state(2, 55);
        let mut offer = state(3, 55);
        offer.balance_hub -= 5;
        offer.locks.push(Lock {
            amount: 5,
            hashlock,
            expiry: 100,
            direction: LockDirection::HubToWallet,
        });
        store
            .commit(vec![
                Write::State {
                    state: co_signed.clone(),
                    purpose: "pay",
                    payment: None,
                },
                Write::WalletSignature {
                    channel_id: ID,
                    version: 2,
                    signature: signature(&co_signed),
                },
                Write::State {
                    state: offer.clone(),
                    purpose: "lock",
                    payment: Some(hashlock),
                },
                Write::Payment(PaymentRow {
                    hashlock,
                    payer_channel: ID,
                    payee_channel: ID,
                    amount: 5,
                    status: PaymentStatus::Offered,
                    secret: None,
                }),
                Write::Meta {
                    key: "watch_cursor",
                    value: 42,
                },
            ])
            .await
            .unwrap();
        let channels = store.channels().await.unwrap();
        assert_eq!(channels.len(), 1);
        let c = &channels[0];
        assert_eq!(c.latest, (co_signed.clone(), Some(signature(&co_signed))));
        assert_eq!(
            c.offer,
            Some((offer.clone(), "lock".into(), Some(hashlock)))
        );
        assert_eq!(store.meta("watch_cursor").await.unwrap(), Some(42));

        // The payee reveals the secret: the offered lock is the latest state, signed by
        // the hub alone, and the secret is known.
        let mut payment = store.payment(&hashlock).await.unwrap().unwrap();
        assert_eq!(
            store
                .payments(&[hashlock, keccak256(b"unknown")])
                .await
                .unwrap(),
            vec![payment.clone()]
        );
        let secret = keccak256(b"x");
        payment.status = PaymentStatus::Fulfilled;
        payment.secret = Some(secret);
        store
            .commit(vec![Write::Payment(payment.clone())])
            .await
            .unwrap();
        let c = &store.channels().await.unwrap()[0];
        assert_eq!((&c.latest, &c.offer), (&(offer.clone(), None), &None));
        assert_eq!(
            store.payments(&[hashlock]).await.unwrap()[0].secret,
            Some(secret)
        );
        // The wallet countersigns it later (a sync): the signature joins the state.
        store
            .commit(vec![Write::WalletSignature {
                channel_id: ID,
                version: 3,
                signature: signature(&offer),
            }])
            .await
            .unwrap();
        let c = &store.channels().await.unwrap()[0];
        assert_eq!(c.latest, (offer.clone(), Some(signature(&offer))));

        // The payer's lock is paid too: the payment is over.
        payment.status = PaymentStatus::Settled;
        store
            .commit(vec![Write::Payment(payment.clone())])
            .await
            .unwrap();
        assert_eq!(store.payment(&hashlock).await.unwrap(), Some(payment));
        store.close().await;
    })
    .await;
}
