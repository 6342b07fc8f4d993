//! `veilwatch audit verify` as an auditor runs it, on the log of a real kiosk session (real faces,
//! a demo enrolment, an alert and its review, a resumed session), with the signed heads the kiosk
//! made along the way as anchors; and the attacks the anchors exist for: a log cut short, a log
//! rewritten with a recomputed chain, a log or anchors from another kiosk.

mod common;

use common::process::{failed, run, succeeded};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use veilwatch::governance::audit::{Reopening, SignedHead};
use veilwatch::hex::hex;
use veilwatch::kiosk::KioskSession;

const NOW: i64 = 1_800_000_000;

struct Exported {
    dir: tempfile::TempDir,
    kiosk: SigningKey,
    log: String,
    anchors: Vec<SignedHead>,
}

impl Exported {
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn anchors_file(&self, anchors: &[SignedHead]) -> PathBuf {
        let text: String = anchors.iter().map(|a| format!("{}\n", a.to_json())).collect();
        self.write("anchors.jsonl", &text)
    }

    fn key_hex(&self) -> String {
        hex(self.kiosk.verifying_key().as_bytes())
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A kiosk session on real photos: enrol a volunteer, see them again (an alert), review it, sign
/// heads as the page does (after the alert, the review and each minute), then reload (restore).
fn real_session() -> Option<Exported> {
    let (engine, root) = (common::engine()?, common::lfw_images()?);
    let load = |name: &str, i: usize| common::load(&root.join(name).join(format!("{name}_{i:04}.jpg")));
    let kiosk = SigningKey::from_bytes(&[7; 32]);
    let key = kiosk.verifying_key().to_bytes();
    let mut anchors = Vec::new();
    let sign = |session: &KioskSession, at: i64| {
        let (seq, head) = session.audit().head().unwrap();
        SignedHead::sign(&kiosk, seq, head, at)
    };

    let mut session = KioskSession::new(engine);
    session.restore_audit("", Some(key), Reopening::Resume, NOW).unwrap();
    let volunteer = load("Tony_Blair", 8);
    session.enroll_from_frame(&volunteer, "Volunteer", NOW).unwrap();
    let mut alerts = Vec::new();
    for i in 0..4 {
        let t = (NOW + 1 + i) as f64 * 1000.0;
        alerts.extend(session.process_frame(&volunteer, t).unwrap().alerts);
    }
    assert_eq!(alerts.len(), 1, "the volunteer raises one alert");
    anchors.push(sign(&session, NOW + 5));
    session.review(alerts[0].id, "confirm", "A. Reviewer", NOW + 10).unwrap();
    anchors.push(sign(&session, NOW + 10));
    // A minute later the counts are logged and the head signed again.
    session.process_frame(&load("Aaron_Sorkin", 1), (NOW + 70) as f64 * 1000.0).unwrap();
    anchors.push(sign(&session, NOW + 70));

    // The page reloads: a new session continues the stored log.
    let engine = common::engine()?;
    let mut reloaded = KioskSession::new(engine);
    reloaded.restore_audit(&session.audit_log(), Some(key), Reopening::Resume, NOW + 100).unwrap();
    reloaded.process_frame(&volunteer, (NOW + 130) as f64 * 1000.0).unwrap();
    reloaded.process_frame(&volunteer, (NOW + 200) as f64 * 1000.0).unwrap();
    anchors.push(sign(&reloaded, NOW + 200));
    Some(Exported { dir: tempfile::tempdir().unwrap(), kiosk, log: reloaded.audit_log(), anchors })
}

#[test]
fn a_real_kiosk_log_verifies_against_its_kiosk_key_and_anchors() {
    let Some(e) = real_session() else { return };
    assert!(e.log.contains("\"kind\":\"alert\"") && e.log.contains("\"kind\":\"resume\""));
    assert!(!e.log.contains("Volunteer"), "the audit log names no one");
    let log = e.write("audit.jsonl", &e.log);
    let anchors = e.anchors_file(&e.anchors);
    let out =
        succeeded(run(&["audit", "verify", path(&log), "--kiosk-key", &e.key_hex(), "--anchors", path(&anchors)]));
    assert!(out.contains("chain intact"), "{out}");
    assert!(out.contains(&format!("kiosk key {}", e.key_hex())), "{out}");
    assert!(out.contains("anchors: 4 signed heads verified"), "{out}");
    // The key may be given as a file, as the issuer keeps it.
    let key_file = e.write("kiosk.pub", &format!("{}\n", e.key_hex()));
    succeeded(run(&["audit", "verify", path(&log), "--kiosk-key", path(&key_file), "--anchors", path(&anchors)]));
}

#[test]
fn a_log_cut_short_after_its_last_anchor_is_detected() {
    let Some(e) = real_session() else { return };
    let last = e.anchors.iter().map(|a| a.seq).max().unwrap() as usize;
    let cut: String = e.log.split_inclusive('\n').take(last - 2).collect();
    let log = e.write("cut.jsonl", &cut);
    // Alone, the shorter log is a valid chain: only the anchors reveal the cut.
    succeeded(run(&["audit", "verify", path(&log)]));
    let err = failed(run(&["audit", "verify", path(&log), "--anchors", path(&e.anchors_file(&e.anchors))]));
    assert!(
        err.contains(&format!("truncated: it has {} lines, but the kiosk signed its head at line {last}", last - 2)),
        "{err}"
    );
}

/// What an attacker holding the log does: edit a line, then recompute every hash after it.
fn rechain(log: &str, edit: impl Fn(&str) -> String) -> String {
    let mut prev = [0u8; 32];
    let mut out = String::new();
    for line in log.lines() {
        let unsigned = edit(&line[..line.len() - 75]);
        let hash: [u8; 32] = Sha256::new().chain_update(prev).chain_update(unsigned.as_bytes()).finalize().into();
        out.push_str(&format!("{unsigned},\"hash\":\"{}\"}}\n", hex(&hash)));
        prev = hash;
    }
    out
}

#[test]
fn a_rewritten_log_with_a_recomputed_chain_is_detected() {
    let Some(e) = real_session() else { return };
    assert_eq!(rechain(&e.log, str::to_owned), e.log, "rechaining unchanged lines gives the same log");
    let forged = rechain(&e.log, |l| l.replace("\"decision\":\"confirmed\"", "\"decision\":\"rejected\""));
    assert_ne!(forged, e.log);
    let log = e.write("forged.jsonl", &forged);
    succeeded(run(&["audit", "verify", path(&log)]));
    let err = failed(run(&["audit", "verify", path(&log), "--anchors", path(&e.anchors_file(&e.anchors))]));
    assert!(err.contains("rewritten: line"), "{err}");
}

#[test]
fn a_log_or_anchors_of_another_kiosk_are_refused() {
    let Some(e) = real_session() else { return };
    let log = e.write("audit.jsonl", &e.log);
    let other = SigningKey::from_bytes(&[8; 32]);
    let err = failed(run(&["audit", "verify", path(&log), "--kiosk-key", &hex(other.verifying_key().as_bytes())]));
    assert!(err.contains("moved from another kiosk"), "{err}");
    let foreign: Vec<SignedHead> = e
        .anchors
        .iter()
        .map(|a| {
            let head: [u8; 32] = veilwatch::hex::from_hex(&a.head).unwrap().try_into().unwrap();
            SignedHead::sign(&other, a.seq, head, NOW + 300)
        })
        .collect();
    let err = failed(run(&["audit", "verify", path(&log), "--anchors", path(&e.anchors_file(&foreign))]));
    assert!(err.contains("is signed for kiosk key"), "{err}");
    // Another key's signature relabelled with this kiosk's key.
    let relabelled: Vec<SignedHead> = foreign.into_iter().map(|a| SignedHead { kiosk_key: e.key_hex(), ..a }).collect();
    let err = failed(run(&["audit", "verify", path(&log), "--anchors", path(&e.anchors_file(&relabelled))]));
    assert!(err.contains("does not carry a valid signature"), "{err}");
}
