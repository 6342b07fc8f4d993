//! The key check of authority custody when a watchlist loads, in two phases like the matching:
//! `begin_load_deployment` verifies everything that needs no network and returns one blinded
//! element for the authority; the deployment's VOPRF key answers in-process; `complete_key_check`
//! loads the deployment only if the answer's proof verifies under the watchlist header's
//! deployment key and its output is the header's key check. A wrong key (its proof fails), a
//! garbage answer, a failure and a second load while a check is open all leave the kiosk as it
//! was before the load, and the audit log records a load only once it completed.

mod common;

use ed25519_dalek::SigningKey;
use veilwatch::blind::enroll::{build, synthetic_enrolments};
use veilwatch::blind::prf::{DeploymentKey, LocalHmac, MasterSecret, Prf};
use veilwatch::governance::profile::Custody;
use veilwatch::hex::hex;
use veilwatch::kiosk::{CustodyOptions, DeploymentOptions, ErrorCode, KioskSession};

const NOW: i64 = 1_800_000_000;
const URL: &str = "https://authority.example";

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn kiosk() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// A deployment of a watchlist built under `prf`, with the profile for `custody`.
fn deployment(model_id: &str, prf: &dyn Prf, custody: CustodyOptions) -> DeploymentOptions {
    let params = common::watchlist_params(model_id, NOW);
    let file = build(synthetic_enrolments(3), &params, prf, &issuer()).unwrap();
    let mut profile_custody = custody.as_profile_custody();
    if let Custody::Authority { authority_public_key, .. } = &mut profile_custody {
        // The watchlist's deployment key, or (for a local-custody list) some key, for the
        // custody check to be what refuses it.
        *authority_public_key = Some(hex(&prf.public_key().unwrap_or([0xE2; 32])));
    }
    let profile = common::test_profile(
        &file,
        params.threshold,
        profile_custody,
        60,
        (NOW, NOW + 3600),
        vec![hex(kiosk().verifying_key().as_bytes())],
    );
    DeploymentOptions {
        watchlist: file,
        issuer_key: hex(&issuer().verifying_key().to_bytes()),
        profile: Some(profile.sign(&issuer()).unwrap()),
        custody,
        kiosk_public_key: Some(hex(kiosk().verifying_key().as_bytes())),
    }
}

/// The key pair of deployment `[id; 16]` under master secret `[master; 32]`.
fn key(master: u8, id: u8) -> DeploymentKey {
    DeploymentKey::derive(&MasterSecret::from_bytes(&[master; 32]).unwrap(), &[id; 16]).unwrap()
}

fn authority() -> CustodyOptions {
    CustodyOptions::Authority { url: URL.into() }
}

fn session() -> Option<KioskSession> {
    let mut session = KioskSession::new(common::engine()?);
    session.set_authority_timeout(5000.0);
    Some(session)
}

fn config_lines(session: &KioskSession) -> usize {
    session.audit_log().lines().filter(|l| l.contains("\"config\"")).count()
}

#[test]
fn the_right_key_loads_only_once_the_authority_answered() {
    let Some(mut session) = session() else { return };
    let key = key(1, 1);
    let options = deployment(session.engine().model_id(), &key, authority());
    let body = session.begin_load_deployment(options, NOW).unwrap().expect("a key check to send");
    assert_eq!(session.deployment_id(), Some(hex(&[1; 16])), "the deployment the key check names");
    assert_eq!(body.len(), 32, "one blinded element");
    assert!(!body.windows(22).any(|w| w == b"veilwatch/blind-lsh/v1"), "no PRF input in the clear");
    assert!(session.key_check_pending());
    let waiting = session.status(NOW);
    assert!(!waiting.matching, "nothing is matched before the key check passed");
    assert!(waiting.loading.as_deref().unwrap().contains("checking the authority"));
    assert!(session.matcher().is_none());
    assert_eq!(config_lines(&session), 0, "the load is not logged before it completed");

    session.complete_key_check(&key.evaluate_blinded(&body).unwrap(), NOW).unwrap();
    assert!(!session.key_check_pending());
    let status = session.status(NOW);
    assert!(status.matching && status.loading.is_none());
    assert_eq!(status.custody, Some("voprf-ristretto255-sha512"));
    assert_eq!(config_lines(&session), 1);
    assert_eq!(session.complete_key_check(&[0; 32], NOW).unwrap_err().code(), ErrorCode::KeyCheckPending, "used once");
}

#[test]
fn a_wrong_key_garbage_or_no_answer_leaves_the_kiosk_as_it_was() {
    let Some(mut session) = session() else { return };
    let model = session.engine().model_id().to_owned();
    // A local-custody deployment runs; the failed authority loads must leave it running.
    let local = LocalHmac::new([5; 32]);
    let running = deployment(&model, &local, CustodyOptions::Local { prf_key: hex(&[5; 32]) });
    assert_eq!(session.begin_load_deployment(running, NOW).unwrap(), None, "local custody loads at once");
    let entries_before = session.matcher().unwrap().watchlist.header.watchlist_id;
    assert_eq!(config_lines(&session), 1);

    // The same deployment under another master secret, and another deployment of the same one.
    let (right, other_authority, other_deployment) = (key(2, 2), key(3, 2), key(2, 3));
    let options = deployment(&model, &right, authority());

    for wrong in [&other_authority, &other_deployment] {
        let body = session.begin_load_deployment(options.clone(), NOW).unwrap().unwrap();
        let refused = session.complete_key_check(&wrong.evaluate_blinded(&body).unwrap(), NOW).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::AuthorityAnswerUnverified);
        assert!(refused.to_string().contains("failed verification"), "{refused}");
    }
    assert!(session.audit_log().contains("\"endpoint\":\"key-check\",\"error\""), "the refusal is in the audit log");

    let body = session.begin_load_deployment(options.clone(), NOW).unwrap().unwrap();
    let garbage = session.complete_key_check(&vec![0xFF; body.len()], NOW).unwrap_err();
    assert_eq!(garbage.code(), ErrorCode::AuthorityBadAnswer, "32 bytes: no proof");
    let body = session.begin_load_deployment(options.clone(), NOW).unwrap().unwrap();
    let garbage = session.complete_key_check(&vec![0xFF; body.len() + 64], NOW).unwrap_err();
    assert_eq!(garbage.code(), ErrorCode::AuthorityAnswerUnverified, "element and proof that do not decode");
    let body = session.begin_load_deployment(options.clone(), NOW).unwrap().unwrap();
    let short = session.complete_key_check(&right.evaluate_blinded(&body).unwrap()[..31], NOW).unwrap_err();
    assert_eq!(short.code(), ErrorCode::AuthorityBadAnswer);

    session.begin_load_deployment(options.clone(), NOW).unwrap().unwrap();
    let failed = session.fail_key_check("the authority did not answer within 5 s");
    assert_eq!(failed.code(), ErrorCode::AuthorityUnavailable);
    assert!(failed.to_string().contains("did not answer within 5 s"), "{failed}");
    assert_eq!(session.fail_key_check("again").code(), ErrorCode::KeyCheckPending, "nothing left to fail");

    assert!(!session.key_check_pending());
    let status = session.status(NOW);
    assert!(status.matching && status.loading.is_none());
    assert_eq!(status.custody, Some("hmac-sha256-local"), "the running deployment is untouched");
    assert_eq!(session.matcher().unwrap().watchlist.header.watchlist_id, entries_before);
    assert_eq!(config_lines(&session), 1, "no refused load is logged as loaded");

    // And the right answer still loads it afterwards.
    let body = session.begin_load_deployment(options, NOW).unwrap().unwrap();
    session.complete_key_check(&right.evaluate_blinded(&body).unwrap(), NOW).unwrap();
    assert_eq!(session.status(NOW).custody, Some("voprf-ristretto255-sha512"));
    assert_eq!(config_lines(&session), 2);
}

#[test]
fn a_second_load_while_a_check_is_open_is_refused_and_touches_nothing() {
    let Some(mut session) = session() else { return };
    let model = session.engine().model_id().to_owned();
    let (first_key, second_key) = (key(4, 4), key(4, 5));
    let first = deployment(&model, &first_key, authority());
    let first_id = {
        let parsed = veilwatch::blind::format::Watchlist::parse(first.watchlist.clone(), &issuer().verifying_key());
        parsed.unwrap().header.watchlist_id
    };
    let body = session.begin_load_deployment(first, NOW).unwrap().unwrap();
    let second = session.begin_load_deployment(deployment(&model, &second_key, authority()), NOW).unwrap_err();
    assert_eq!(second.code(), ErrorCode::KeyCheckPending);
    let local = deployment(&model, &LocalHmac::new([5; 32]), CustodyOptions::Local { prf_key: hex(&[5; 32]) });
    assert_eq!(session.begin_load_deployment(local, NOW).unwrap_err().code(), ErrorCode::KeyCheckPending);
    assert!(session.matcher().is_none());

    // The open check is still the first load's.
    session.complete_key_check(&first_key.evaluate_blinded(&body).unwrap(), NOW).unwrap();
    assert_eq!(session.matcher().unwrap().watchlist.header.watchlist_id, first_id);
}

#[test]
fn a_deployment_refused_before_the_network_opens_no_check() {
    let Some(mut session) = session() else { return };
    let key = key(6, 6);
    let mut options = deployment(session.engine().model_id(), &key, authority());
    options.watchlist[60] ^= 1;
    assert!(session.begin_load_deployment(options, NOW).is_err());
    assert!(!session.key_check_pending());
    // A local-custody watchlist under an authority profile: the custody is refused offline.
    let local = LocalHmac::new([5; 32]);
    let options = deployment(session.engine().model_id(), &local, authority());
    let at_creation = session.load_at_creation(options.clone(), NOW).unwrap_err();
    assert_eq!(at_creation.code(), ErrorCode::OptionsInvalid, "authority custody is never loaded synchronously");
    assert!(!session.key_check_pending());
    assert_eq!(session.begin_load_deployment(options, NOW).unwrap_err().code(), ErrorCode::WatchlistWrongCustody);
    assert!(!session.key_check_pending());
}
