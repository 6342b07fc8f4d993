//! Deployment profiles: signed by the issuer, optionally co-signed by an overseer; any change,
//! a foreign signer, a missing co-signature, a closed window or the wrong watchlist is refused.

use ed25519_dalek::SigningKey;
use veilwatch::governance::profile::{cosign, Custody, Profile, ProfileError, RecordedEstimate, SignedProfile};
use veilwatch::time::parse_utc;

fn profile() -> Profile {
    Profile {
        purpose: "Demonstration of on-device matching".into(),
        legal_basis: "Consent of every enrolled volunteer".into(),
        operator: "Veilwatch test operator".into(),
        location: "Test bench".into(),
        valid_from: "2026-11-01T00:00:00Z".into(),
        valid_until: "2026-12-01T00:00:00Z".into(),
        watchlist_sha256: "ab".repeat(32),
        threshold: 29,
        threshold_floor: 25,
        custody: Custody::Authority {
            url: "http://127.0.0.1:8787".into(),
            authority_public_key: Some("e2".repeat(32)),
        },
        query_rate_per_minute: 60,
        notice: "Faces that do not match are deleted at once.".into(),
        contact: "rights@example.org".into(),
        requires_overseer: false,
        target_fpir: None,
        false_alert_estimate: None,
        kiosk_keys: vec!["cd".repeat(32)],
    }
}

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

fn overseer() -> SigningKey {
    SigningKey::from_bytes(&[2; 32])
}

#[test]
fn a_signed_profile_verifies_and_every_single_byte_change_is_refused() {
    let file = cosign(&profile().sign(&issuer()).unwrap(), &overseer()).unwrap();
    let (i, o) = (issuer().verifying_key(), overseer().verifying_key());
    let parsed = SignedProfile::parse(file.as_bytes(), &i, Some(&o)).unwrap();
    assert_eq!(parsed.profile, profile());
    let bytes = file.as_bytes();
    for position in 0..bytes.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut bad = bytes.to_vec();
            bad[position] ^= flip;
            assert!(
                SignedProfile::parse(&bad, &i, Some(&o)).is_err(),
                "a change at byte {position} (^{flip:#x}) was accepted"
            );
        }
    }
}

#[test]
fn foreign_signers_and_missing_cosignatures_are_refused() {
    let file = profile().sign(&issuer()).unwrap();
    let stranger = SigningKey::from_bytes(&[9; 32]).verifying_key();
    assert!(matches!(SignedProfile::parse(file.as_bytes(), &stranger, None), Err(ProfileError::ForeignIssuer(_))));
    let o = overseer().verifying_key();
    assert_eq!(
        SignedProfile::parse(file.as_bytes(), &issuer().verifying_key(), Some(&o)).unwrap_err(),
        ProfileError::MissingOverseer
    );
    let mut needs = profile();
    needs.requires_overseer = true;
    let file = needs.sign(&issuer()).unwrap();
    let no_key = SignedProfile::parse(file.as_bytes(), &issuer().verifying_key(), None).unwrap_err();
    assert_eq!(no_key, ProfileError::NoOverseerKey);
    assert!(no_key.to_string().contains("this kiosk has no overseer key configured"), "{no_key}");
    assert_eq!(
        SignedProfile::parse(file.as_bytes(), &issuer().verifying_key(), Some(&o)).unwrap_err(),
        ProfileError::MissingOverseer
    );
    let cosigned = cosign(&file, &overseer()).unwrap();
    assert!(SignedProfile::parse(cosigned.as_bytes(), &issuer().verifying_key(), Some(&o)).is_ok());
    let stranger = SigningKey::from_bytes(&[8; 32]).verifying_key();
    assert_eq!(
        SignedProfile::parse(cosigned.as_bytes(), &issuer().verifying_key(), Some(&stranger)).unwrap_err(),
        ProfileError::ForeignOverseer,
        "a co-signature by anyone but the configured overseer does not count"
    );
}

#[test]
fn an_authority_is_reached_over_https_and_names_the_kiosks_allowed() {
    let mut plain_http = profile();
    plain_http.custody =
        Custody::Authority { url: "http://authority.example:8787".into(), authority_public_key: Some("e2".repeat(32)) };
    assert!(matches!(plain_http.sign(&issuer()), Err(ProfileError::InsecureAuthority(_))));
    for (key, why) in [
        (None, "authorityPublicKey"),
        (Some("E2".repeat(32)), "64 lowercase hex"),
        (Some("e2".into()), "64 lowercase hex"),
    ] {
        let mut keyless = profile();
        keyless.custody = Custody::Authority { url: "http://127.0.0.1:8787".into(), authority_public_key: key };
        assert!(matches!(keyless.sign(&issuer()), Err(ProfileError::Malformed(m)) if m.contains(why)), "{why}");
    }
    let mut no_kiosks = profile();
    no_kiosks.kiosk_keys.clear();
    assert!(matches!(no_kiosks.sign(&issuer()), Err(ProfileError::Malformed(m)) if m.contains("kioskKeys")));
    let file = profile().sign(&issuer()).unwrap();
    assert!(file.contains(&format!("\"kioskKeys\":[\"{}\"]", "cd".repeat(32))), "{file}");
    let parsed = SignedProfile::parse(file.as_bytes(), &issuer().verifying_key(), None).unwrap();
    assert!(parsed.check_kiosk(Some(&"cd".repeat(32))).is_ok());
    assert!(matches!(
        parsed.check_kiosk(Some(&"ce".repeat(32))),
        Err(ProfileError::KioskNotAllowed { allowed: 1, .. })
    ));
    assert!(matches!(parsed.check_kiosk(None), Err(ProfileError::KioskNotAllowed { .. })));
    // The profile's deployment key must be the watchlist header's.
    assert!(parsed.check_authority_key(Some(&[0xE2; 32])).is_ok());
    assert!(matches!(parsed.check_authority_key(Some(&[0xE3; 32])), Err(ProfileError::AuthorityKeyMismatch { .. })));
    assert!(matches!(parsed.check_authority_key(None), Err(ProfileError::AuthorityKeyMismatch { .. })));
}

#[test]
fn the_window_the_watchlist_and_the_threshold_floor_are_enforced() {
    let file = profile().sign(&issuer()).unwrap();
    let parsed = SignedProfile::parse(file.as_bytes(), &issuer().verifying_key(), None).unwrap();
    assert!(parsed.check_window(parse_utc("2026-11-22").unwrap()).is_ok());
    let expired = parsed.check_window(parse_utc("2026-12-02").unwrap()).unwrap_err();
    assert_eq!(expired.to_string(), "the deployment expired on 2026-12-01T00:00:00Z; ask the issuer for a new profile");
    assert!(matches!(parsed.check_window(parse_utc("2026-10-01").unwrap()), Err(ProfileError::NotYetValid(_))));
    assert!(matches!(parsed.check_watchlist(b"another watchlist"), Err(ProfileError::WatchlistMismatch { .. })));

    let mut low = profile();
    low.threshold = 20;
    assert!(matches!(low.sign(&issuer()), Err(ProfileError::BelowFloor { threshold: 20, floor: 25 })));
}

#[test]
fn garbage_is_not_a_profile() {
    let key = issuer().verifying_key();
    for bad in [&b""[..], b"{}", b"VEILWATCH-PROFILE-V1\n{}\n", &[0xFF; 10][..], &vec![b'a'; 70_000][..]] {
        assert!(SignedProfile::parse(bad, &key, None).is_err());
    }
}

#[test]
fn a_recorded_false_alert_estimate_is_signed_and_profiles_without_one_still_parse() {
    let key = issuer().verifying_key();
    // A profile signed before the field existed: its JSON has no falseAlertEstimate.
    let old = profile().sign(&issuer()).unwrap();
    assert!(!old.contains("falseAlertEstimate"));
    assert_eq!(SignedProfile::parse(old.as_bytes(), &key, None).unwrap().profile.false_alert_estimate, None);

    let mut with = profile();
    with.false_alert_estimate = Some(RecordedEstimate {
        per_1000: 0.8,
        per_1000_ci95: [0.4, 1.5],
        calibration: "per-entry, cohort of 2000 strangers".into(),
    });
    let file = with.sign(&issuer()).unwrap();
    assert!(file.contains(r#""falseAlertEstimate":{"per1000":0.8,"per1000Ci95":[0.4,1.5],"calibration":"#), "{file}");
    assert_eq!(SignedProfile::parse(file.as_bytes(), &key, None).unwrap().profile, with);

    // An estimate outside its own interval, or not a rate per 1 000, or without a source: refused.
    for (per_1000, ci, source) in
        [(2.0, [0.4, 1.5], "x"), (0.8, [0.4, 1500.0], "x"), (f64::NAN, [0.4, 1.5], "x"), (0.8, [0.4, 1.5], "")]
    {
        let mut bad = profile();
        bad.false_alert_estimate = Some(RecordedEstimate { per_1000, per_1000_ci95: ci, calibration: source.into() });
        assert!(matches!(bad.sign(&issuer()), Err(ProfileError::Malformed(_))), "{per_1000} {ci:?} {source:?}");
    }
}
