//! Authority custody in two phases, natively, on real photos and a real authority-custody
//! watchlist answered by the VOPRF evaluator in-process (the deployment key derived from a master
//! secret): a frame returns the blinded query instead of blocking on the network; the answer
//! completes the match (alert for the enrolled person, none for a stranger); an unknown id, a
//! malformed answer, a failure, a timeout and a track that ends all leave no pending state; the
//! rate cap is counted before anything is sent; an answer whose proof fails (tampered, or under
//! another deployment's key) pauses matching until the deployment is loaded again.

mod common;

use ed25519_dalek::SigningKey;
use veilwatch::authority::evaluator::DeploymentEvaluator;
use veilwatch::blind::enroll::{build, Enrolment};
use veilwatch::blind::prf::{DeploymentKey, MasterSecret, PROOF_BYTES};
use veilwatch::blind::record::EntryRecord;
use veilwatch::governance::profile::Custody;
use veilwatch::hex::hex;
use veilwatch::kiosk::{CustodyOptions, DeploymentOptions, ErrorCode, KioskSession};
use veilwatch::pipeline::Frame;
use veilwatch::template::Embedding;

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://authority.example";
const MASTER: [u8; 32] = [0x3C; 32];
const DEPLOYMENT: [u8; 16] = [0xD1; 16];

struct Setup {
    session: KioskSession,
    key: &'static DeploymentKey,
    deployment: DeploymentOptions,
    enrolled: Frame,
    stranger: Frame,
    blank: Frame,
}

fn setup(rate_per_minute: u32, timeout_ms: f64) -> Option<Setup> {
    let (engine, root) = (common::engine()?, common::lfw_images()?);
    let load = |name: &str, i: usize| common::load(&root.join(name).join(format!("{name}_{i:04}.jpg")));
    let embed = |frame: &Frame| engine.analyse_still(frame).unwrap().unwrap().embedding;
    let templates: Vec<Embedding> = (2..=6).map(|i| embed(&load("Tony_Blair", i))).collect();
    let (key, deployment) = tony_blair_deployment(&engine, &templates, DEPLOYMENT, rate_per_minute);
    let mut session = KioskSession::new(engine);
    session.set_authority_timeout(timeout_ms);
    load_through_key_check(&mut session, deployment.clone(), key);
    let blank = Frame::from_rgba(250, 250, &vec![128; 250 * 250 * 4]).unwrap();
    Some(Setup { session, key, deployment, enrolled: load("Tony_Blair", 8), stranger: load("Aaron_Sorkin", 1), blank })
}

/// An authority-custody deployment listing Tony Blair (the mean of `templates`) under the
/// authority's key for deployment `id`, and that key.
fn tony_blair_deployment(
    engine: &veilwatch::Engine,
    templates: &[Embedding],
    id: [u8; 16],
    rate_per_minute: u32,
) -> (&'static DeploymentKey, DeploymentOptions) {
    let record = EntryRecord::new("REF-000001".into(), "Tony Blair".into(), "test".into(), "LFW".into(), NOW, None);
    let issuer = SigningKey::from_bytes(&[3; 32]);
    let key: &'static DeploymentKey =
        Box::leak(Box::new(DeploymentKey::derive(&MasterSecret::from_bytes(&MASTER).unwrap(), &id).unwrap()));
    let params = common::watchlist_params(engine.model_id(), NOW);
    let template = Embedding::mean(templates).unwrap();
    let file = build(vec![Enrolment { template, record }], &params, key, &issuer).unwrap();
    // The kiosk's own key, which an authority-custody profile must list.
    let kiosk = SigningKey::from_bytes(&[7; 32]);
    let profile = common::test_profile(
        &file,
        params.threshold,
        Custody::Authority { url: URL.into(), authority_public_key: Some(hex(&key.public_key())) },
        rate_per_minute,
        (NOW, NOW + 3600),
        vec![hex(kiosk.verifying_key().as_bytes())],
    );
    let deployment = DeploymentOptions {
        watchlist: file,
        issuer_key: hex(&issuer.verifying_key().to_bytes()),
        profile: Some(profile.sign(&issuer).unwrap()),
        custody: CustodyOptions::Authority { url: URL.into() },
        kiosk_public_key: Some(hex(kiosk.verifying_key().as_bytes())),
    };
    (key, deployment)
}

/// Loads `deployment` as the browser does: its key check is answered by the in-process authority
/// holding `key`.
fn load_through_key_check(session: &mut KioskSession, deployment: DeploymentOptions, key: &DeploymentKey) {
    let check = session.begin_load_deployment(deployment, NOW).unwrap().expect("a key check to send");
    session.complete_key_check(&key.evaluate_blinded(&check).unwrap(), NOW).unwrap();
}

fn ms(extra_ms: f64) -> f64 {
    NOW as f64 * 1000.0 + extra_ms
}

#[test]
fn a_frame_returns_the_blinded_query_and_the_answer_raises_the_alert() {
    let Some(mut s) = setup(600, 5000.0) else { return };
    let first = s.session.process_frame(&s.enrolled, ms(0.0)).unwrap();
    assert!(first.alerts.is_empty(), "nothing is decided before the authority answered");
    assert_eq!(first.queries.len(), 1);
    assert_eq!(first.counters.match_attempts, 1);
    let query = &first.queries[0];
    assert_eq!(query.body.len(), veilwatch::blind::DEFAULT_TABLES as usize * 32, "L blinded elements, nothing else");
    assert_eq!(s.session.deployment_id(), Some(hex(&DEPLOYMENT)), "the id its requests name");
    assert!(!query.body.windows(22).any(|w| w == b"veilwatch/blind-lsh/v1"), "no PRF input in the clear");
    assert_eq!(s.session.pending_queries(), 1);
    let json = serde_json::to_value(&first).unwrap();
    assert!(json.get("queries").is_some());

    let answer = s.key.evaluate_blinded(&query.body).unwrap();
    let done = s.session.complete_query(query.id, &answer, NOW).unwrap();
    assert_eq!(done.alerts.len(), 1);
    // The file holds only the entry's handle; its record is fetched with a disclosure
    // (tests/authority_disclosure.rs). This session has no kiosk key, so it cannot ask.
    assert!(done.alerts[0].record.is_none());
    assert!(done.alerts[0].material.as_deref().unwrap().contains("no key"), "{:?}", done.alerts[0].material);
    assert!(done.disclosures.is_empty());
    assert_eq!(done.alerts[0].probe.rgba().len(), 112 * 112 * 4, "the reviewer's crop was kept with the query");
    assert_eq!(done.matching_error, None);
    assert_eq!((s.session.pending_queries(), s.session.pending_reviews()), (0, 1));
    let again = s.session.complete_query(query.id, &answer, NOW).unwrap_err();
    assert_eq!(again.code(), ErrorCode::QueryUnknown, "an answer is used once");

    // The track alerted: later frames of it send nothing more.
    let later = s.session.process_frame(&s.enrolled, ms(1500.0)).unwrap();
    assert!(later.queries.is_empty());
}

#[test]
fn a_track_whose_two_queries_both_come_back_alerts_once() {
    // The authority is slower than the track's retry: the track is matched again (a second query)
    // while its first query is still out. Both answers open the record; one alert.
    let Some(mut s) = setup(600, 5000.0) else { return };
    let first = s.session.process_frame(&s.enrolled, ms(0.0)).unwrap();
    let second = s.session.process_frame(&s.enrolled, ms(1100.0)).unwrap();
    assert_eq!((first.queries.len(), second.queries.len()), (1, 1), "one query per retry while the first is out");
    let answers = [&first.queries[0], &second.queries[0]].map(|q| (q.id, s.key.evaluate_blinded(&q.body).unwrap()));
    let alerts: Vec<usize> =
        answers.iter().map(|(id, answer)| s.session.complete_query(*id, answer, NOW).unwrap().alerts.len()).collect();
    assert_eq!(alerts, [1, 0], "the second answer raises no second alert for the same track");
    assert_eq!((s.session.pending_queries(), s.session.pending_reviews()), (0, 1));
}

#[test]
fn a_stranger_answered_raises_nothing_and_a_local_frame_result_has_no_queries_key() {
    let Some(mut s) = setup(600, 5000.0) else { return };
    let result = s.session.process_frame(&s.stranger, ms(0.0)).unwrap();
    let query = &result.queries[0];
    let done = s.session.complete_query(query.id, &s.key.evaluate_blinded(&query.body).unwrap(), NOW).unwrap();
    assert!(done.alerts.is_empty());
    assert_eq!(s.session.pending_queries(), 0);
    let blank = s.session.process_frame(&s.blank, ms(100.0)).unwrap();
    assert!(serde_json::to_value(&blank).unwrap().get("queries").is_none(), "absent, not an empty list");
}

#[test]
fn unknown_ids_malformed_answers_and_failures_leave_no_pending_state() {
    let Some(mut s) = setup(600, 5000.0) else { return };
    let result = s.session.process_frame(&s.enrolled, ms(0.0)).unwrap();
    let query = &result.queries[0];
    assert_eq!(s.session.complete_query(query.id + 1, &[], NOW).unwrap_err().code(), ErrorCode::QueryUnknown);
    assert_eq!(s.session.fail_query(query.id + 1, "x").unwrap_err().code(), ErrorCode::QueryUnknown);
    assert_eq!(s.session.pending_queries(), 1, "a wrong id touches nothing");

    let answer = s.key.evaluate_blinded(&query.body).unwrap();
    let short = s.session.complete_query(query.id, &answer[..answer.len() - 32], NOW).unwrap();
    assert!(short.alerts.is_empty());
    assert!(short.matching_error.unwrap().contains("expected"), "a wrong length is reported");
    assert_eq!(short.counters.match_failures, 1);
    assert_eq!(s.session.pending_queries(), 0, "wiped after a bad answer");

    // The track retries a second later; this time the network fails.
    let retry = s.session.process_frame(&s.enrolled, ms(1200.0)).unwrap();
    let query = &retry.queries[0];
    let failed = s.session.fail_query(query.id, "HTTP 503").unwrap();
    assert!(failed.matching_error.unwrap().contains("HTTP 503"));
    assert_eq!(failed.counters.match_failures, 2);
    assert_eq!(s.session.pending_queries(), 0);
}

#[test]
fn a_query_is_wiped_when_its_time_runs_out_or_its_track_ends() {
    let Some(mut s) = setup(600, 500.0) else { return };
    let result = s.session.process_frame(&s.enrolled, ms(0.0)).unwrap();
    let late_id = result.queries[0].id;
    let next = s.session.process_frame(&s.enrolled, ms(600.0)).unwrap();
    assert_eq!(next.matching_error.as_deref(), Some("the authority did not answer within 0.5 s"));
    assert_eq!(next.counters.match_failures, 1);
    assert_eq!(s.session.pending_queries(), 0);
    assert_eq!(s.session.complete_query(late_id, &[], NOW).unwrap_err().code(), ErrorCode::QueryUnknown, "too late");

    let Some(mut s) = setup(600, 60_000.0) else { return };
    s.session.process_frame(&s.enrolled, ms(0.0)).unwrap();
    assert_eq!(s.session.pending_queries(), 1);
    let gone = s.session.process_frame(&s.blank, ms(5000.0)).unwrap();
    assert_eq!(gone.counters.tracks_active, 0);
    assert_eq!(s.session.pending_queries(), 0, "the face left: its query is wiped");
    assert_eq!(gone.counters.match_failures, 0, "a track that ends is not a failure");

    s.session.process_frame(&s.enrolled, ms(6000.0)).unwrap();
    s.session.stop();
    assert_eq!(s.session.pending_queries(), 0, "stopping the camera wipes pending queries");
}

#[test]
fn the_rate_cap_is_counted_before_anything_is_sent() {
    let Some(mut s) = setup(1, 60_000.0) else { return };
    let first = s.session.process_frame(&s.enrolled, ms(0.0)).unwrap();
    assert_eq!(first.queries.len(), 1);
    // The face leaves and comes back as a new track within the same minute: over the cap.
    s.session.process_frame(&s.blank, ms(3000.0)).unwrap();
    let back = s.session.process_frame(&s.enrolled, ms(6000.0)).unwrap();
    assert!(back.queries.is_empty(), "nothing is sent over the cap");
    assert_eq!(back.counters.rate_limited, 1);
    assert_eq!(s.session.pending_queries(), 0);
}

/// Answers `body` as the authority's evaluator does, for `deployment` under the master secret.
fn evaluator_answer(master: [u8; 32], deployment: &[u8; 16], body: &[u8]) -> Vec<u8> {
    DeploymentEvaluator::new(MasterSecret::from_bytes(&master).unwrap())
        .evaluate_for_deployment(deployment, body)
        .unwrap()
}

#[test]
fn an_answer_that_fails_verification_pauses_matching_until_the_deployment_is_loaded_again() {
    // Each way an answer can fail its proof: an element changed, the proof changed, an answer
    // under another deployment's key (same master secret), under another authority's master.
    type Tamper = fn(&mut Vec<u8>);
    let cases: [(&str, [u8; 32], [u8; 16], Tamper); 4] = [
        ("a tampered element", MASTER, DEPLOYMENT, |a| a[5] ^= 0x40),
        ("a tampered proof", MASTER, DEPLOYMENT, |a| {
            let at = a.len() - PROOF_BYTES + 1;
            a[at] ^= 1
        }),
        ("another deployment's key", MASTER, [0xD2; 16], |_| ()),
        ("another authority's key", [0x3D; 32], DEPLOYMENT, |_| ()),
    ];
    for (case, master, deployment, tamper) in cases {
        let Some(mut s) = setup(600, 60_000.0) else { return };
        let first = s.session.process_frame(&s.enrolled, ms(0.0)).unwrap();
        let query = &first.queries[0];
        let mut answer = evaluator_answer(master, &deployment, &query.body);
        tamper(&mut answer);
        let done = s.session.complete_query(query.id, &answer, NOW).unwrap();
        assert!(done.alerts.is_empty(), "{case}: nothing opens under an unverified answer");
        let error = done.matching_error.unwrap_or_default();
        assert!(error.contains("the authority's answer failed verification; matching is paused"), "{case}: {error}");
        let status = s.session.status(NOW);
        assert!(!status.matching && status.paused.is_some(), "{case}: the status shows the pause");
        let audit = s.session.audit_log();
        assert!(
            audit.contains("\"outcome\":\"unverified\"") && audit.contains("\"matching\":\"paused\""),
            "{case}: {audit}"
        );

        // Paused: a new face (a new track) sends nothing, and says why.
        s.session.process_frame(&s.blank, ms(3000.0)).unwrap();
        let later = s.session.process_frame(&s.enrolled, ms(6000.0)).unwrap();
        assert!(later.queries.is_empty(), "{case}: no query while paused");
        assert!(later.matching_error.unwrap_or_default().contains("failed verification"), "{case}");

        // Loading the deployment again resumes matching; an honest answer then alerts.
        load_through_key_check(&mut s.session, s.deployment.clone(), s.key);
        assert!(s.session.status(NOW).paused.is_none());
        s.session.process_frame(&s.blank, ms(9000.0)).unwrap();
        let resumed = s.session.process_frame(&s.enrolled, ms(12_000.0)).unwrap();
        let query = &resumed.queries[0];
        let honest = evaluator_answer(MASTER, &DEPLOYMENT, &query.body);
        assert_eq!(s.session.complete_query(query.id, &honest, NOW).unwrap().alerts.len(), 1, "{case}");
    }
}

#[test]
fn a_query_still_out_when_another_deployment_is_loaded_is_dropped_not_checked_against_the_new_key() {
    // The operator loads the next deployment while a face's query is with the authority. Its
    // answer is under the old deployment's key: checked against the new one it would fail
    // verification and pause matching for no fault of the authority's.
    let Some(mut s) = setup(600, 60_000.0) else { return };
    let out = s.session.process_frame(&s.enrolled, ms(0.0)).unwrap().queries.remove(0);
    let engine = common::engine().unwrap();
    let root = common::lfw_images().unwrap();
    let templates: Vec<Embedding> = (2..=6)
        .map(|i| {
            let frame = common::load(&root.join("Tony_Blair").join(format!("Tony_Blair_{i:04}.jpg")));
            engine.analyse_still(&frame).unwrap().unwrap().embedding
        })
        .collect();
    let (next_key, next) = tony_blair_deployment(&engine, &templates, [0xD2; 16], 600);
    load_through_key_check(&mut s.session, next, next_key);
    assert_eq!(s.session.pending_queries(), 0, "the old deployment's query is dropped with it");
    let late = evaluator_answer(MASTER, &DEPLOYMENT, &out.body);
    assert_eq!(s.session.complete_query(out.id, &late, NOW).unwrap_err().code(), ErrorCode::QueryUnknown);
    assert!(s.session.status(NOW).paused.is_none(), "matching is not paused by a late answer");
}
