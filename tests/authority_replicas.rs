//! Two `veilwatch authority` replicas sharing one `redis-server` (`--state redis://…`) behind
//! `haproxy` (round-robin, health checks), all real processes on loopback (DESIGN §5, issue 9
//! item 8 "Replicas"):
//!
//! - a kiosk spraying both replicas, through the balancer and directly, gets exactly its budget,
//!   not twice it; a registration sent to one replica holds at the other;
//! - a nonce seen by one replica is refused by the other (`replayed`);
//! - a replica killed (SIGKILL) under load loses no accepted request's accounting (the total
//!   budget is exhausted at exactly its count, never after more answers than it allows) and the
//!   other keeps serving through haproxy;
//! - with redis-server stopped both replicas answer 503 and evaluate nothing; restarted in the
//!   same folder, service resumes with the budgets it had.
//!
//! Without `redis-server` or `haproxy` the tests say so loudly and skip; under `CI=true` they fail.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{Haproxy, Redis};
use common::http::{agent, send_document, signed_post, signed_post_for, signed_post_with, Answer};
use common::kiosk::{authority, EnrolledDeployment, Kiosk, DEFAULT_CAPS};
use common::process::Server;
use curve25519_dalek::{RistrettoPoint, Scalar};
use rand_core::{OsRng, RngCore};
use veilwatch::authority::credential::AuthorityOrigin;
use veilwatch::authority::registration::Budgets;

const EVALUATE: &str = "/v1/evaluate";

struct Replicas {
    _scratch: tempfile::TempDir,
    redis: Redis,
    a: Server,
    b: Server,
    balancer: Haproxy,
    deployment: EnrolledDeployment,
    kiosks: Vec<Kiosk>,
}

impl Replicas {
    /// Redis, two replicas, haproxy; a one-person deployment registered (through replica A only)
    /// for `kiosks` kiosks with `budgets`.
    fn start(budgets: Budgets, kiosks: usize) -> Option<Replicas> {
        common::process::tool_or_skip("haproxy")?;
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().to_owned();
        let redis = Redis::start(&dir.join("redis"))?;
        let dataset = common::cluster::lfw_people(&dir, 1)?;
        let deployment = EnrolledDeployment::enrol(&dir, &dataset, 1);
        let kiosks: Vec<Kiosk> = (0..kiosks).map(|i| Kiosk::from_cli(&dir, &format!("kiosk-{i}"))).collect();
        let registration =
            deployment.registration(&kiosks.iter().collect::<Vec<_>>(), budgets, &dir.join("registration.vwr"));
        let state = redis.url();
        // Kiosks know the balancer's origin and sign their requests for it; so do the replicas.
        let balancer_port = common::process::free_port();
        let public_origin = format!("http://127.0.0.1:{balancer_port}");
        let replica = || authority(&deployment.keys, &["--state", &state, "--public-origin", &public_origin], &dir);
        let (a, b) = (replica(), replica());
        send_document(&a.admin_url(""), &registration);
        let balancer = Haproxy::start(balancer_port, &[a.port(), b.port()], &dir)?;
        common::http::wait_for_200(&format!("{}/v1/health", balancer.url()), Duration::from_secs(15));
        // Both replicas up in haproxy's view (two passing checks each).
        std::thread::sleep(Duration::from_millis(600));
        Some(Replicas { _scratch: scratch, redis, a, b, balancer, deployment, kiosks })
    }

    /// One face: L valid blinded elements (distinct random ristretto255 points).
    fn face(&self) -> Vec<u8> {
        (0..self.deployment.tables)
            .flat_map(|_| {
                let mut wide = [0u8; 64];
                OsRng.fill_bytes(&mut wide);
                RistrettoPoint::mul_base(&Scalar::from_bytes_mod_order_wide(&wide)).compress().to_bytes()
            })
            .collect()
    }
}

/// Sleeps until at least `margin` seconds remain in the current unix minute, so that a test
/// counting a per-minute budget stays inside one window.
fn inside_one_minute(margin: i64) {
    let second = common::http::now() % 60;
    if second > 60 - margin {
        std::thread::sleep(Duration::from_secs((61 - second) as u64));
    }
}

fn evaluated(answer: &Answer, tables: usize) -> bool {
    answer.status == 200 && answer.body.len() >= tables * 32
}

#[test]
fn a_kiosk_spraying_both_replicas_gets_its_budget_once_and_a_nonce_is_seen_by_both() {
    let budgets = Budgets { faces_per_minute: 6, faces_per_day: 1000, faces_total: 1000, ..DEFAULT_CAPS };
    let Some(r) = Replicas::start(budgets, 2) else { return };
    let agent = agent();
    let targets = [r.balancer.url(), r.a.url(""), r.b.url("")];
    let face = r.face();

    inside_one_minute(20);
    let mut answered_by = Vec::new();
    let mut refusals = Vec::new();
    for i in 0..15 {
        let target = &targets[i % targets.len()];
        let answer =
            signed_post_for(&agent, target, &r.balancer.url(), EVALUATE, &face, &r.kiosks[0].signer(&r.deployment.id));
        if evaluated(&answer, r.deployment.tables) {
            answered_by.push(target.clone());
        } else {
            assert_eq!((answer.status, answer.refusal()), (429, "budget_minute"), "{}", answer.text());
            let retry: i64 = answer.header("retry-after").expect("Retry-After").parse().unwrap();
            assert!((1..=60).contains(&retry), "Retry-After {retry} s for a per-minute budget");
            refusals.push(i);
        }
    }
    println!("REPLICAS per-minute budget 6, 15 requests sprayed over haproxy, A, B: {} answered", answered_by.len());
    assert_eq!(answered_by.len() as u64, budgets.faces_per_minute as u64, "answered by {answered_by:?}");
    assert!(targets.iter().all(|t| answered_by.contains(t)), "each path answered some: {answered_by:?}");
    assert_eq!(refusals, (6..15).collect::<Vec<_>>(), "every request after the budget is refused");

    // The other kiosk's nonce: accepted by A, then refused by B and by the balancer.
    let signer = &r.kiosks[1].signer(&r.deployment.id);
    let mut nonce = [0u8; 16];
    OsRng.fill_bytes(&mut nonce);
    let balancer = AuthorityOrigin::of_url(&r.balancer.url()).unwrap();
    let headers = signer.headers_with_nonce(&balancer, "POST", EVALUATE, &face, common::http::now(), &nonce);
    let first = signed_post_with(&agent, &r.a.url(""), EVALUATE, &face, headers.clone());
    assert!(evaluated(&first, r.deployment.tables), "{} {}", first.status, first.text());
    for replay_at in [r.b.url(""), r.balancer.url(), r.a.url("")] {
        let replay = signed_post_with(&agent, &replay_at, EVALUATE, &face, headers.clone());
        assert_eq!((replay.status, replay.refusal()), (401, "replayed"), "at {replay_at}: {}", replay.text());
    }
}

#[test]
fn a_replica_killed_under_load_loses_no_accepted_request_and_the_other_keeps_serving() {
    let budgets = Budgets { faces_per_minute: 100_000, faces_per_day: 100_000, faces_total: 40, ..DEFAULT_CAPS };
    let Some(mut r) = Replicas::start(budgets, 1) else { return };
    let face = Arc::new(r.face());
    let url = r.balancer.url();
    let answered = Arc::new(AtomicUsize::new(0));
    let answered_after_kill = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let lost = Arc::new(Mutex::new(Vec::<String>::new()));
    let signer = Arc::new(r.kiosks[0].signer(&r.deployment.id));
    let tables = r.deployment.tables;
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (face, url, answered, after, killed, lost, signer) = (
                face.clone(),
                url.clone(),
                answered.clone(),
                answered_after_kill.clone(),
                killed.clone(),
                lost.clone(),
                signer.clone(),
            );
            std::thread::spawn(move || {
                let agent = agent();
                let start = Instant::now();
                loop {
                    assert!(start.elapsed() < Duration::from_secs(90), "the budget was never exhausted");
                    let answer = signed_post(&agent, &url, EVALUATE, &face, &signer);
                    if evaluated(&answer, tables) {
                        answered.fetch_add(1, Ordering::SeqCst);
                        if killed.load(Ordering::SeqCst) {
                            after.fetch_add(1, Ordering::SeqCst);
                        }
                    } else if (answer.status, answer.refusal()) == (429, "budget_total") {
                        return;
                    } else {
                        // Cut off by the kill (no answer, or haproxy's 502/503 for it).
                        lost.lock().unwrap().push(format!("{} {}", answer.status, answer.text().trim()));
                    }
                }
            })
        })
        .collect();
    while answered.load(Ordering::SeqCst) < 12 {
        std::thread::sleep(Duration::from_millis(5));
    }
    r.a.process.kill();
    killed.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().unwrap();
    }
    let (ok, lost) = (answered.load(Ordering::SeqCst), lost.lock().unwrap().clone());
    println!(
        "REPLICAS kill under load: total budget {}, {ok} answered ({} after replica A was killed), {} cut off by the kill",
        budgets.faces_total,
        answered_after_kill.load(Ordering::SeqCst),
        lost.len()
    );
    // Every answered face was charged: never more answers than the budget. A face charged but cut
    // off in flight is the only way to have fewer, and there are at least that many cut off.
    assert!(ok as u64 <= budgets.faces_total, "{ok} answers for a budget of {}", budgets.faces_total);
    assert!(ok + lost.len() >= budgets.faces_total as usize, "{ok} answered + {lost:?}");
    assert!(answered_after_kill.load(Ordering::SeqCst) > 0, "replica B kept serving through haproxy");
    // The store reached the budget exactly: B refuses, and so does the balancer.
    let agent = agent();
    for at in [r.b.url(""), url.clone()] {
        let answer = signed_post_for(&agent, &at, &url, EVALUATE, &face, &signer);
        assert_eq!((answer.status, answer.refusal()), (429, "budget_total"), "{at}: {}", answer.text());
    }
}

#[test]
fn without_its_store_each_replica_refuses_and_with_it_back_the_budgets_are_kept() {
    let budgets = Budgets { faces_per_minute: 100_000, faces_per_day: 100_000, faces_total: 8, ..DEFAULT_CAPS };
    let Some(mut r) = Replicas::start(budgets, 1) else { return };
    let agent = agent();
    let face = r.face();
    let signer = &r.kiosks[0].signer(&r.deployment.id);
    for i in 0..5 {
        let answer = signed_post(&agent, &r.balancer.url(), EVALUATE, &face, signer);
        assert!(evaluated(&answer, r.deployment.tables), "request {i}: {} {}", answer.status, answer.text());
    }

    r.redis.stop();
    for replica in [r.a.url(""), r.b.url(""), r.a.url(""), r.b.url("")] {
        let answer = signed_post_for(&agent, &replica, &r.balancer.url(), EVALUATE, &face, signer);
        assert_eq!((answer.status, answer.refusal()), (503, "state_store_unavailable"), "{replica}: {}", answer.text());
        assert!(answer.body.len() < face.len(), "nothing evaluated: {} bytes came back", answer.body.len());
    }
    println!("REPLICAS redis-server stopped: both replicas answered 503 state_store_unavailable");

    r.redis.restart();
    let start = Instant::now();
    let mut answered = 0;
    let refused = loop {
        let answer = signed_post(&agent, &r.balancer.url(), EVALUATE, &face, signer);
        if evaluated(&answer, r.deployment.tables) {
            answered += 1;
        } else if answer.status == 503 {
            assert!(start.elapsed() < Duration::from_secs(20), "service did not resume: {}", answer.text());
            std::thread::sleep(Duration::from_millis(100));
        } else {
            break answer;
        }
    };
    println!(
        "REPLICAS redis-server restarted: {answered} more answered, then {} {}",
        refused.status,
        refused.refusal()
    );
    assert_eq!(answered, 3, "the 5 faces charged before the stop were kept: 8 − 5 remain");
    assert_eq!((refused.status, refused.refusal()), (429, "budget_total"), "{}", refused.text());
}
