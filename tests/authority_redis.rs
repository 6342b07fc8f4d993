//! The authority's state in Redis (`--state redis://…`, protocol F), with a `redis-server` of the
//! test's own: two authority processes sharing it hold one budget, one nonce set, one registration
//! and revocation state, one append-only anchor history per kiosk and one disclosure log; and when Redis goes away
//! they refuse with 503 and evaluate nothing, then serve again once it is back, budgets kept.
//! Sealed custody's state in Redis: a value is taken once (by one of two stores at once), expires,
//! and a sealed gallery follows its registration.
//! (Without `redis-server` the tests say so loudly and skip; under `CI=true` they fail.)

mod common;

use std::time::{Duration, Instant};

use common::cluster::Redis;
use common::http::{call, header, now, refusal, signed};
use common::kiosk::{generous, issuer_key, keygen, TestDeployment};
use common::process::{scratch, Server};
use veilwatch::authority::registration::{Base64Bytes, Budgets, Document, HexBytes, KioskRevocation, Material};
use veilwatch::authority::store::{RedisStore, StateStore};
use veilwatch::blind::material::MaterialKeys;
use veilwatch::blind::record::{self, EntryRecord};
use veilwatch::blind::shares::KEY_BYTES;
use veilwatch::governance::audit::SignedHead;

const L: u16 = 16;

/// The one public origin of the replicas (the load balancer's, which kiosks sign their requests
/// for): a request accepted by one replica is the same request at the other.
const BALANCER: &str = "https://authority.example";

/// `veilwatch authority` with its state in `redis`, known to kiosks as [`BALANCER`], applying
/// `register` (a registration document) at start if given.
fn replica(
    keys: &std::path::Path,
    redis: &str,
    register: Option<&std::path::Path>,
    scratch: &std::path::Path,
) -> Server {
    let authority_keys = keys.join("authority");
    let mut args = vec!["authority", "--keys", authority_keys.to_str().unwrap(), "--state", redis];
    args.extend(["--public-origin", BALANCER]);
    if let Some(document) = register {
        args.extend(["--register", document.to_str().unwrap()]);
    }
    Server::start(&args, scratch)
}

fn metric(server: &Server, series: &str) -> f64 {
    let text = String::from_utf8(call("GET", &server.admin_url("/metrics"), &[], &[]).2).unwrap();
    text.lines().find(|l| l.starts_with(series)).map_or(0.0, |line| line.rsplit(' ').next().unwrap().parse().unwrap())
}

/// Not within the last few seconds of a unix minute (a per-minute budget test must not straddle one).
fn away_from_a_minute_boundary() {
    if now() % 60 > 45 {
        std::thread::sleep(Duration::from_secs((61 - now() % 60) as u64));
    }
}

#[test]
fn two_replicas_sharing_redis_hold_one_budget_one_nonce_set_one_revocation_state_and_one_disclosure_log() {
    let scratch = scratch("redis-replicas");
    let Some(redis) = Redis::start(&scratch) else { return };
    let keys = keygen(&scratch);
    let mut deployment = TestDeployment::new(L, Budgets { faces_per_minute: 4, ..generous() });
    let id = deployment.id();
    let material_keys = MaterialKeys::derive(&[0x31; KEY_BYTES]);
    let handle = [0x32; 16];
    let entry = EntryRecord::new("ref-9".into(), "Someone".into(), "c".into(), "s".into(), now(), None);
    let sealed = material_keys.seal(&entry, record::class_of(&entry).unwrap(), &id, &handle).unwrap();
    deployment.registration.materials = vec![Material {
        handle: HexBytes(handle),
        verifier: HexBytes(material_keys.verifier()),
        sealed: Base64Bytes(sealed.clone()),
    }];
    let second_kiosk = deployment.add_kiosk();
    let document = deployment.document(&keys, &scratch, "registration.txt");
    let state = redis.url();
    // Replica A registers the deployment at start; replica B only shares the store.
    let a = replica(&keys, &state, Some(&document), &scratch);
    let b = replica(&keys, &state, None, &scratch);
    let kiosk = deployment.signer();
    let face = deployment.face(1);
    away_from_a_minute_boundary();

    // A request accepted by A is a replay at B.
    let headers = kiosk.headers(&a.origin, "POST", "/v1/evaluate", &face, now());
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(call("POST", &a.url("/v1/evaluate"), &headers, &face).0, 200, "{}", a.log_text());
    assert_eq!(refusal(&call("POST", &b.url("/v1/evaluate"), &headers, &face)), (401, "replayed".into()));
    // Spraying both replicas does not double the kiosk's 4 faces per minute.
    let statuses: Vec<u16> =
        (0..5).map(|i| signed(if i % 2 == 0 { &b } else { &a }, &kiosk, "/v1/evaluate", &face).0).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429], "one budget across the replicas");
    let refused = signed(&b, &kiosk, "/v1/evaluate", &face);
    assert_eq!(refusal(&refused), (429, "budget_minute".into()));
    assert!(header(&refused.1, "retry-after").is_some());

    // Concurrent requests sprayed over both replicas: exactly the budget is accepted.
    let burst = TestDeployment::new(L, Budgets { faces_per_day: 7, ..generous() });
    let burst_path = burst.document(&keys, &scratch, "burst.txt");
    assert_eq!(call("POST", &b.admin_url("/issuer/documents"), &[], &std::fs::read(&burst_path).unwrap()).0, 204);
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (replica, signer, face) =
                (if i % 2 == 0 { a.clone() } else { b.clone() }, burst.signer(), burst.face(1));
            std::thread::spawn(move || signed(&replica, &signer, "/v1/evaluate", &face).0)
        })
        .collect();
    let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, [[200; 7].as_slice(), &[429; 9]].concat(), "the day's 7 faces, not one more");

    // A kiosk revoked through B is refused by A on the next request.
    let second = second_kiosk.signer(&id);
    let revoke = Document::RevokeKiosk(KioskRevocation {
        deployment: HexBytes(id),
        kiosk_key: HexBytes(second_kiosk.key.verifying_key().to_bytes()),
        issued: now(),
    })
    .sign(&issuer_key(&keys));
    assert_eq!(call("POST", &b.admin_url("/issuer/documents"), &[], revoke.as_bytes()).0, 204);
    assert_eq!(
        refusal(&signed(&a, &second, "/v1/key-check", &common::kiosk::elements(1, 2))),
        (401, "revoked_kiosk".into())
    );

    // Disclosure through A, logged in the shared store.
    let nonce = [0x44; 16];
    let p = material_keys.proof(&veilwatch::hex(&id), kiosk.kiosk_hex(), &veilwatch::hex(&nonce), &handle);
    let body = format!("{{\"handle\":\"{}\",\"proof\":\"{}\"}}", veilwatch::hex(&handle), veilwatch::hex(&p));
    let headers = kiosk.headers_with_nonce(&a.origin, "POST", "/v1/disclose", body.as_bytes(), now(), &nonce);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let disclosed = call("POST", &a.url("/v1/disclose"), &headers, body.as_bytes());
    assert_eq!((disclosed.0, &disclosed.2), (200, &sealed));
    let log = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let store = RedisStore::connect(&state).await.unwrap();
        store.disclosures(&id).await.unwrap()
    });
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].deployment.0, log[0].kiosk.to_hex(), log[0].handle.0),
        (id, kiosk.kiosk_hex().to_owned(), handle)
    );
    assert!((log[0].time - now()).abs() < 30);

    // An anchor posted to A is read from B.
    let head = SignedHead::sign(&deployment.kiosk.key, 3, [0x55; 32], now());
    let body = head.to_json();
    assert_eq!(signed(&a, &kiosk, "/v1/anchor", body.as_bytes()).0, 204);
    let read = call("GET", &b.admin_url(&format!("/v1/anchor/{}", kiosk.kiosk_hex())), &[], &[]);
    assert_eq!(read.0, 200);
    assert_eq!(SignedHead::parse(&String::from_utf8(read.2).unwrap()).unwrap(), head);
    let backwards = SignedHead::sign(&deployment.kiosk.key, 2, [0x56; 32], now());
    assert_eq!(
        refusal(&signed(&b, &kiosk, "/v1/anchor", backwards.to_json().as_bytes())),
        (409, "anchor_backwards".into())
    );
    // The history is append-only across replicas: another hash at seq 3, sent to B, is refused;
    // the same head again and a later one are kept, and both replicas answer the whole history.
    let rewritten = SignedHead::sign(&deployment.kiosk.key, 3, [0x57; 32], now());
    assert_eq!(
        refusal(&signed(&b, &kiosk, "/v1/anchor", rewritten.to_json().as_bytes())),
        (409, "anchor_conflict".into())
    );
    assert_eq!(signed(&b, &kiosk, "/v1/anchor", body.as_bytes()).0, 204, "the same head again");
    let later = SignedHead::sign(&deployment.kiosk.key, 4, [0x58; 32], now());
    assert_eq!(signed(&b, &kiosk, "/v1/anchor", later.to_json().as_bytes()).0, 204);
    for replica in [&a, &b] {
        let history = call("GET", &replica.admin_url(&format!("/v1/anchor/{}", kiosk.kiosk_hex())), &[], &[]);
        let heads: Vec<SignedHead> =
            String::from_utf8(history.2).unwrap().lines().map(|l| SignedHead::parse(l).unwrap()).collect();
        assert_eq!(heads, [head.clone(), later.clone()]);
    }

    // A replica restarted with an older --register file than the shared state holds still starts
    // (and keeps the newer registration).
    let mut newer = burst.registration.clone();
    newer.issued += 5;
    newer.budgets.faces_per_day = 100;
    let newer = Document::RegisterDeployment(newer).sign(&issuer_key(&keys));
    assert_eq!(call("POST", &a.admin_url("/issuer/documents"), &[], newer.as_bytes()).0, 204);
    let c = replica(&keys, &state, Some(&burst_path), &scratch);
    assert_eq!(signed(&c, &burst.signer(), "/v1/evaluate", &burst.face(1)).0, 200, "the newer budget of 100 a day");
    assert!(c.log_text().contains("stale_document"), "{}", c.log_text());
    drop(redis);
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn when_redis_stops_the_authority_refuses_with_503_and_evaluates_nothing_then_resumes_with_budgets_kept() {
    let scratch = scratch("redis-fail-closed");
    let Some(mut redis) = Redis::start(&scratch) else { return };
    let keys = keygen(&scratch);
    let deployment = TestDeployment::new(L, Budgets { faces_per_day: 3, ..generous() });
    let document = deployment.document(&keys, &scratch, "registration.txt");
    let server = replica(&keys, &redis.url(), Some(&document), &scratch);
    let kiosk = deployment.signer();
    let face = deployment.face(1);
    for _ in 0..2 {
        assert_eq!(signed(&server, &kiosk, "/v1/evaluate", &face).0, 200);
    }
    let evaluated = metric(&server, "veilwatch_authority_elements_evaluated_total");

    redis.crash();
    let start = Instant::now();
    let down = signed(&server, &kiosk, "/v1/evaluate", &face);
    let took = start.elapsed();
    assert_eq!(refusal(&down), (503, "state_store_unavailable".into()));
    assert!(String::from_utf8_lossy(&down.2).contains("nothing was evaluated"));
    for _ in 0..3 {
        assert_eq!(refusal(&signed(&server, &kiosk, "/v1/evaluate", &face)).0, 503);
    }
    assert_eq!(refusal(&signed(&server, &kiosk, "/v1/key-check", &common::kiosk::elements(1, 5))).0, 503);
    assert_eq!(call("GET", &server.admin_url(&format!("/v1/anchor/{}", kiosk.kiosk_hex())), &[], &[]).0, 503);
    let document_text = std::fs::read(&document).unwrap();
    assert_eq!(call("POST", &server.admin_url("/issuer/documents"), &[], &document_text).0, 503);
    assert_eq!(
        metric(&server, "veilwatch_authority_elements_evaluated_total"),
        evaluated,
        "nothing evaluated while down"
    );

    // Back (same data folder): served again, and the day's budget remembers the 2 faces before.
    redis.restart();
    let start = Instant::now();
    let resumed = loop {
        let answer = signed(&server, &kiosk, "/v1/evaluate", &face);
        if answer.0 == 200 {
            break start.elapsed();
        }
        assert_eq!(refusal(&answer), (503, "state_store_unavailable".into()));
        assert!(start.elapsed() < Duration::from_secs(20), "the authority did not resume after Redis came back");
        std::thread::sleep(Duration::from_millis(200));
    };
    let over = signed(&server, &kiosk, "/v1/evaluate", &face);
    assert_eq!(refusal(&over), (429, "budget_day".into()), "2 faces before the restart + 1 after = the day's 3");
    eprintln!("redis down: first refusal after {took:?}; served again {resumed:?} after the restart");
    assert!(took < Duration::from_secs(5), "a refusal took {took:?}");
    std::fs::remove_dir_all(&scratch).ok();
}

#[test]
fn sealed_state_in_redis_is_taken_once_across_stores_and_a_gallery_follows_its_registration() {
    let scratch = scratch("redis-sealed");
    let Some(redis) = Redis::start(&scratch) else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (a, b) =
            (RedisStore::connect(&redis.url()).await.unwrap(), RedisStore::connect(&redis.url()).await.unwrap());
        a.put_sealed("seed:k", b"one", None, now()).await.unwrap();
        assert_eq!(b.get_sealed("seed:k", now()).await.unwrap(), Some(b"one".to_vec()));
        let (first, second) = tokio::join!(a.take_sealed("seed:k", now()), b.take_sealed("seed:k", now()));
        let taken: Vec<Vec<u8>> = [first.unwrap(), second.unwrap()].into_iter().flatten().collect();
        assert_eq!(taken, [b"one".to_vec()], "one of two stores takes it");
        a.put_sealed("query:k", b"map", Some(1), now()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(b.get_sealed("query:k", now()).await.unwrap(), None, "expired");

        let mut deployment = TestDeployment::new(L, generous());
        deployment.registration.sealed_gallery =
            Some(veilwatch::authority::registration::SealedGalleryBytes(vec![7; 100]));
        let id = deployment.id();
        a.apply(&Document::RegisterDeployment(deployment.registration.clone())).await.unwrap().unwrap();
        assert_eq!(b.sealed_gallery(&id).await.unwrap(), Some(vec![7; 100]));
        let summary = b.deployment(&id).await.unwrap().unwrap().registration.unwrap();
        assert!(summary.sealed_gallery.is_none(), "requests read the summary, not the gallery");
        assert_eq!(
            summary.custody(),
            veilwatch::authority::registration::RegisteredCustody::BfvSealed,
            "the summary keeps the custody the routes check"
        );
        let revoke =
            veilwatch::authority::registration::DeploymentRevocation { deployment: HexBytes(id), issued: now() + 1 };
        a.apply(&Document::RevokeDeployment(revoke)).await.unwrap().unwrap();
        assert_eq!(b.sealed_gallery(&id).await.unwrap(), None, "a revocation deletes it");
    });
}
