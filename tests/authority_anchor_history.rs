//! The attack the authority's anchor history exists for: whoever holds the unlocked kiosk rewrites
//! its audit log from an early line, recomputes the chain, signs a head at an already anchored seq
//! with the kiosk's own key and POSTs it; then keeps going and anchors later heads of the forged
//! chain. Against a real `veilwatch authority`: the head at the anchored seq is refused (409
//! `anchor_conflict`, logged), the history keeps every real head, and `veilwatch audit verify
//! --anchors` over the history the authority answers reports the rewrite.

mod common;

use std::process::Command;

use common::http::{call, refusal, signed};
use common::kiosk::{authority_for, generous, keygen, TestDeployment};
use common::process::{bin, scratch};
use serde_json::json;
use veilwatch::blind::DEFAULT_TABLES;
use veilwatch::governance::audit::{AuditLog, SignedHead};

const T0: i64 = 1_800_000_000;

/// A kiosk's log up to its review: `decision` is what the reviewer decided (or what a thief
/// claims they decided).
fn log_with_review(kiosk: [u8; 32], decision: &str) -> AuditLog {
    let mut log = AuditLog::new(Some(kiosk));
    log.append(T0, "config", json!({"entries": 30, "custody": "voprf-ristretto255-sha512-authority"}));
    log.append(T0 + 60, "counts", json!({"faces": 12, "retained": 0}));
    log.append(T0 + 61, "alert", json!({"alert": 1, "collisions": 77, "status": "pending review"}));
    log.append(T0 + 90, "review", json!({"alert": 1, "decision": decision, "reviewer": "A. Reviewer"}));
    log
}

#[test]
fn a_rewritten_log_signed_at_an_anchored_seq_is_refused_and_audit_verify_finds_the_rewrite() {
    let scratch = scratch("anchor-history");
    let keys = keygen(&scratch);
    let deployment = TestDeployment::new(DEFAULT_TABLES, generous());
    let server = authority_for(&keys, &deployment, &scratch, &[]);
    let (kiosk, signer) = (deployment.kiosk.key.clone(), deployment.signer());
    let kiosk_public = kiosk.verifying_key().to_bytes();
    let kiosk_hex = veilwatch::hex(&kiosk_public);
    let post = |log: &AuditLog, at: i64| {
        let (seq, head) = log.head().unwrap();
        signed(&server, &signer, "/v1/anchor", SignedHead::sign(&kiosk, seq, head, at).to_json().as_bytes())
    };

    // The honest kiosk anchors after the alert (seq 4) and after the review (seq 5).
    let mut honest = log_with_review(kiosk_public, "confirmed");
    let mut after_alert = AuditLog::new(Some(kiosk_public));
    after_alert.append(T0, "config", json!({"entries": 30, "custody": "voprf-ristretto255-sha512-authority"}));
    after_alert.append(T0 + 60, "counts", json!({"faces": 12, "retained": 0}));
    after_alert.append(T0 + 61, "alert", json!({"alert": 1, "collisions": 77, "status": "pending review"}));
    assert!(honest.export().starts_with(after_alert.export()), "the same lines, the same chain");
    assert_eq!(post(&after_alert, T0 + 62).0, 204);
    assert_eq!(post(&honest, T0 + 91).0, 204);
    assert_eq!(post(&honest, T0 + 92).0, 204, "the same head again (a retry) is accepted and changes nothing");
    honest.append(T0 + 120, "counts", json!({"faces": 3, "retained": 0}));

    // The thief rewrites the review, recomputes the chain (AuditLog does it for them), signs the
    // new head at the anchored seq 5 with the kiosk's key and POSTs it: refused, and logged.
    let mut forged = log_with_review(kiosk_public, "rejected");
    assert_eq!(forged.head().unwrap().0, 5);
    assert_ne!(forged.head(), log_with_review(kiosk_public, "confirmed").head());
    let answer = post(&forged, T0 + 93);
    assert_eq!(refusal(&answer), (409, "anchor_conflict".into()));
    assert!(String::from_utf8_lossy(&answer.2).contains("rewritten"), "{}", String::from_utf8_lossy(&answer.2));
    assert!(server.log_text().contains("anchor conflict"), "the conflict is logged: {}", server.log_text());

    // The thief keeps going: the forged chain's later heads are new seqs, and are appended.
    forged.append(T0 + 120, "counts", json!({"faces": 3, "retained": 0}));
    forged.append(T0 + 180, "counts", json!({"faces": 0, "retained": 0}));
    assert_eq!(post(&forged, T0 + 181).0, 204);

    // The history keeps every head, the real ones included; `?since` answers the later ones.
    let (status, _, body) = call("GET", &server.admin_url(&format!("/v1/anchor/{kiosk_hex}")), &[], &[]);
    assert_eq!(status, 200);
    let history = String::from_utf8(body).unwrap();
    let seqs: Vec<u64> = history.lines().map(|l| SignedHead::parse(l).unwrap().seq).collect();
    assert_eq!(seqs, [4, 5, 7]);
    let honest_head_5 = veilwatch::hex(&log_with_review(kiosk_public, "confirmed").head().unwrap().1);
    assert_eq!(SignedHead::parse(history.lines().nth(1).unwrap()).unwrap().head, honest_head_5);
    let (_, _, since) = call("GET", &server.admin_url(&format!("/v1/anchor/{kiosk_hex}?since=4")), &[], &[]);
    assert_eq!(String::from_utf8(since).unwrap().lines().count(), 2);
    let bad_query = call("GET", &server.admin_url(&format!("/v1/anchor/{kiosk_hex}?since=x")), &[], &[]);
    assert_eq!(refusal(&bad_query).1, "bad_query");
    // A stranger who knows the kiosk's public key asks the kiosks' listener: the history (its
    // length is the kiosk's audit line count) is not there, only on the operator's admin listener.
    let stranger = call("GET", &server.url(&format!("/v1/anchor/{kiosk_hex}")), &[], &[]);
    assert_eq!(refusal(&stranger), (404, "not_found".into()));
    assert!(!String::from_utf8_lossy(&stranger.2).contains(&kiosk_hex));

    // The auditor checks the exported (forged) log against the authority's history: the rewrite
    // shows at the anchored seq 5, although the forged chain itself is intact.
    let (forged_file, anchors_file) = (scratch.join("forged.jsonl"), scratch.join("anchors.jsonl"));
    std::fs::write(&forged_file, forged.export()).unwrap();
    std::fs::write(&anchors_file, &history).unwrap();
    let verify = |anchors: bool| {
        let mut command = Command::new(bin());
        command.args(["audit", "verify", forged_file.to_str().unwrap(), "--kiosk-key", &kiosk_hex]);
        if anchors {
            command.args(["--anchors", anchors_file.to_str().unwrap()]);
        }
        command.output().unwrap()
    };
    assert!(verify(false).status.success(), "without anchors the recomputed chain verifies");
    let checked = verify(true);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success());
    assert!(stderr.contains("rewritten: line 5"), "{stderr}");
    std::fs::remove_dir_all(&scratch).ok();
}
