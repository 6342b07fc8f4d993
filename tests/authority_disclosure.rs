//! The kiosk session's disclosure phase under authority custody, natively, on real photos: an
//! alert is raised without its record and hands out a disclosure request (the entry's handle and a
//! proof of its record key, bound to the kiosk and the request's nonce); an in-process answerer
//! that parses and checks the request with the authority's own code (`authority::disclosure`) answers it
//! with the sealed material; `complete_disclosure` opens it and
//! the alert shows the record; `fail_disclosure` leaves the alert pending review with "material not
//! available: <reason>". The audit log names the entry only in a review that did not reject it,
//! as under local custody, and never holds the label, the handle or the material.

mod common;

use ed25519_dalek::SigningKey;
use veilwatch::authority::disclosure::DiscloseRequest;
use veilwatch::blind::enroll::{build_with_materials, Enrolment};
use veilwatch::blind::material::Material;
use veilwatch::blind::prf::{DeploymentKey, MasterSecret};
use veilwatch::blind::record::EntryRecord;
use veilwatch::governance::audit::Reopening;
use veilwatch::governance::profile::Custody;
use veilwatch::hex::hex;
use veilwatch::kiosk::{AlertView, CustodyOptions, DeploymentOptions, DisclosureRequest, ErrorCode, KioskSession};
use veilwatch::pipeline::Frame;
use veilwatch::template::Embedding;

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://authority.example";
const LABEL: &str = "Tony Blair";

struct Setup {
    session: KioskSession,
    key: &'static DeploymentKey,
    materials: Vec<Material>,
    deployment: String,
    kiosk: String,
    enrolled: Frame,
}

fn setup() -> Option<Setup> {
    let (engine, root) = (common::engine()?, common::lfw_images()?);
    let load = |name: &str, i: usize| common::load(&root.join(name).join(format!("{name}_{i:04}.jpg")));
    let embed = |frame: &Frame| engine.analyse_still(frame).unwrap().unwrap().embedding;
    let templates: Vec<Embedding> = (2..=6).map(|i| embed(&load("Tony_Blair", i))).collect();
    let record =
        EntryRecord::new("REF-000001".into(), LABEL.into(), "test".into(), "LFW".into(), NOW, Some(&[0xFF, 0xD8, 1]));
    let issuer = SigningKey::from_bytes(&[3; 32]);
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    let key: &'static DeploymentKey =
        Box::leak(Box::new(DeploymentKey::derive(&MasterSecret::generate(), &id).unwrap()));
    let params = common::watchlist_params(engine.model_id(), NOW);
    let template = Embedding::mean(&templates).unwrap();
    let enrolled = build_with_materials(vec![Enrolment { template, record }], &params, key, &issuer).unwrap();
    assert!(!enrolled.file.windows(LABEL.len()).any(|w| w == LABEL.as_bytes()), "the file holds no label");
    let kiosk_key = SigningKey::from_bytes(&[7; 32]);
    let kiosk = hex(kiosk_key.verifying_key().as_bytes());
    let profile = common::test_profile(
        &enrolled.file,
        params.threshold,
        Custody::Authority { url: URL.into(), authority_public_key: Some(hex(&key.public_key())) },
        600,
        (NOW, NOW + 3600),
        vec![kiosk.clone()],
    );
    let deployment = DeploymentOptions {
        watchlist: enrolled.file.clone(),
        issuer_key: hex(&issuer.verifying_key().to_bytes()),
        profile: Some(profile.sign(&issuer).unwrap()),
        custody: CustodyOptions::Authority { url: URL.into() },
        kiosk_public_key: Some(kiosk.clone()),
    };
    let mut session = KioskSession::new(engine);
    session.restore_audit("", Some(kiosk_key.verifying_key().to_bytes()), Reopening::Resume, NOW).unwrap();
    session.set_authority_timeout(5000.0);
    load_through_key_check(&mut session, deployment, key);
    let deployment = session.deployment_id().unwrap();
    Some(Setup { session, key, materials: enrolled.materials, deployment, kiosk, enrolled: load("Tony_Blair", 8) })
}

/// Loads `deployment` as the browser does: its key check is answered by the in-process authority
/// holding `key`.
fn load_through_key_check(session: &mut KioskSession, deployment: DeploymentOptions, key: &DeploymentKey) {
    let check = session.begin_load_deployment(deployment, NOW).unwrap().expect("a key check to send");
    session.complete_key_check(&key.evaluate_blinded(&check).unwrap(), NOW).unwrap();
}

/// The enrolled face's alert, after the authority's evaluation: the alert and its disclosure request.
fn alert(s: &mut Setup) -> (AlertView, DisclosureRequest) {
    let frame = s.session.process_frame(&s.enrolled, NOW as f64 * 1000.0).unwrap();
    assert!(frame.disclosures.is_empty(), "nothing to disclose before the match");
    let query = &frame.queries[0];
    let mut done = s.session.complete_query(query.id, &s.key.evaluate_blinded(&query.body).unwrap(), NOW).unwrap();
    assert_eq!((done.alerts.len(), done.disclosures.len()), (1, 1));
    (done.alerts.remove(0), done.disclosures.remove(0))
}

/// The authority's `POST /v1/disclose` for this kiosk, with the request's nonce: the handle's
/// material if the proof verifies with the server's own check.
fn answer(s: &Setup, request: &DisclosureRequest) -> Result<Vec<u8>, &'static str> {
    let body = DiscloseRequest::parse(&request.body).map_err(|_| "malformed")?;
    let material = s.materials.iter().find(|m| m.handle == body.handle.to_hex()).ok_or("unknown_handle")?;
    let (_, verifier, sealed) = material.decode().unwrap();
    if !body.proves(&verifier, &s.deployment, &s.kiosk, &request.nonce) {
        return Err("bad_proof");
    }
    Ok(sealed)
}

#[test]
fn an_alert_waits_for_its_material_and_shows_the_record_once_disclosed() {
    let Some(mut s) = setup() else { return };
    let (alert, request) = alert(&mut s);
    assert!(alert.record.is_none(), "the file holds only a handle");
    assert_eq!(alert.material.as_deref(), Some("waiting for the reviewer material from the authority"));
    assert_eq!(alert.probe.rgba().len(), 112 * 112 * 4);
    assert_eq!(request.alert, alert.id);
    assert_eq!(request.nonce.len(), 32);
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!((body["handle"].as_str().unwrap().len(), body["proof"].as_str().unwrap().len()), (32, 64));
    assert_eq!(s.session.pending_disclosures(), 1);

    let sealed = answer(&s, &request).expect("the authority accepts the proof");
    let done = s.session.complete_disclosure(alert.id, &sealed).unwrap();
    let record = done.record.expect("the material opens");
    assert_eq!((record.label.as_str(), record.reference_id.as_str()), (LABEL, "REF-000001"));
    assert_eq!(record.photo_jpeg_hex.as_deref(), Some("ffd801"), "the reference photo comes with it");
    assert_eq!(done.material, None);
    assert_eq!(s.session.pending_disclosures(), 0, "the material keys are wiped once used");
    let again = s.session.complete_disclosure(alert.id, &sealed).unwrap_err();
    assert_eq!(again.code(), ErrorCode::DisclosureUnknown);

    s.session.review(alert.id, "confirm", "A. Reviewer", NOW).unwrap();
    let log = s.session.audit_log();
    let review = log.lines().find(|l| l.contains("\"review\"")).unwrap();
    assert!(review.contains("REF-000001"), "a confirmed alert names its entry, as under local custody: {review}");
    let handle = body["handle"].as_str().unwrap();
    assert!(!log.contains(LABEL) && !log.contains(handle), "neither the label nor the handle is logged");
}

#[test]
fn a_refused_disclosure_leaves_the_alert_pending_review_without_material() {
    let Some(mut s) = setup() else { return };
    let (alert, request) = alert(&mut s);
    let failed = s
        .session
        .fail_disclosure(alert.id, "the authority refused (HTTP 429 disclosure_cap, retry after 3600 s)")
        .unwrap();
    assert_eq!(failed.record, None);
    assert_eq!(
        failed.material.as_deref(),
        Some("material not available: the authority refused (HTTP 429 disclosure_cap, retry after 3600 s)")
    );
    assert_eq!((s.session.pending_disclosures(), s.session.pending_reviews()), (0, 1));
    assert_eq!(s.session.fail_disclosure(alert.id, "x").unwrap_err().code(), ErrorCode::DisclosureUnknown);
    // A late answer cannot be used any more.
    let sealed = answer(&s, &request).unwrap();
    assert_eq!(s.session.complete_disclosure(alert.id, &sealed).unwrap_err().code(), ErrorCode::DisclosureUnknown);
    s.session.review(alert.id, "unsure", "A. Reviewer", NOW).unwrap();
    let log = s.session.audit_log();
    let review = log.lines().find(|l| l.contains("\"review\"")).unwrap();
    assert!(review.contains("\"reference_id\":null"), "the entry is unknown here: {review}");
}

#[test]
fn a_proof_is_bound_to_the_kiosk_and_nonce_and_a_foreign_answer_does_not_open() {
    let Some(mut s) = setup() else { return };
    let (alert, request) = alert(&mut s);
    let mut other_kiosk =
        DisclosureRequest { alert: request.alert, nonce: request.nonce.clone(), body: request.body.clone() };
    let honest_kiosk = std::mem::replace(&mut s.kiosk, hex(&[9; 32]));
    assert_eq!(answer(&s, &request), Err("bad_proof"), "another kiosk cannot use this proof");
    s.kiosk = honest_kiosk;
    other_kiosk.nonce = hex(&[5; 16]);
    assert_eq!(answer(&s, &other_kiosk), Err("bad_proof"), "nor another request (nonce)");

    // Some other material (here: the right one with one bit flipped) does not open.
    let mut sealed = answer(&s, &request).unwrap();
    sealed[20] ^= 1;
    let done = s.session.complete_disclosure(alert.id, &sealed).unwrap();
    assert_eq!(done.record, None);
    assert!(done.material.unwrap().starts_with("material not available: "));
    // Reviewing wipes whatever was still pending for the alert.
    assert_eq!(s.session.pending_disclosures(), 0);
}
