//! `veilwatch profile` as an issuer and an overseer run it: the issuer signs a profile listing the
//! kiosks allowed to run it, the overseer co-signs, and `verify --overseer-key` requires that
//! co-signature; an authority profile without kiosks, or reached over plain http off loopback, is
//! refused at signing; an authority profile gets its `authorityPublicKey` from the watchlist's
//! header, and a template naming another key, or a local-custody watchlist, is refused.

use std::path::Path;
use std::process::{Command, Output};

fn veilwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veilwatch")).args(args).output().expect("veilwatch runs")
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn refused(output: Output) -> String {
    assert!(!output.status.success(), "accepted: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stderr).unwrap()
}

/// A small authority-custody watchlist enrolled as `veilwatch enroll --custody authority` does,
/// with the key folder's issuer key and a deployment key derived from its master secret; and
/// that key's public half, hex.
fn authority_watchlist(keys: &Path) -> (Vec<u8>, String) {
    use veilwatch::blind::enroll::{build, synthetic_enrolments, WatchlistParams};
    use veilwatch::blind::prf::{DeploymentKey, MasterSecret};
    let secret = |name: &str| {
        let text = std::fs::read_to_string(keys.join(name)).unwrap();
        <[u8; 32]>::try_from(veilwatch::hex::from_hex(text.trim()).unwrap()).unwrap()
    };
    let issuer = ed25519_dalek::SigningKey::from_bytes(&secret("secret/issuer.key"));
    let key = DeploymentKey::derive(
        &MasterSecret::from_bytes(&secret("authority/authority-master.key")).unwrap(),
        &[0x77; 16],
    )
    .unwrap();
    let params =
        WatchlistParams { model_id: "m".into(), tables: 16, threshold: 8, valid_from: 0, valid_until: 4_000_000_000 };
    let file = build(synthetic_enrolments(2), &params, &key, &issuer).unwrap();
    (file, veilwatch::hex::hex(&key.public_key()))
}

fn template(custody: &str) -> String {
    format!(
        r#"{{"purpose":"CLI test","legalBasis":"test","operator":"Veilwatch CI","location":"bench",
        "validFrom":"2020-01-01T00:00:00Z","validUntil":"2099-01-01T00:00:00Z","threshold":53,"thresholdFloor":50,
        "custody":{custody},"queryRatePerMinute":60,"notice":"n","contact":"c"}}"#
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_issuer_lists_kiosks_the_overseer_cosigns_and_verify_requires_the_cosignature() {
    let scratch = std::env::temp_dir().join(format!("veilwatch-cli-profile-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let at = |name: &str| scratch.join(name);
    let issuer = ok(veilwatch(&["keygen", "--out", path(&at("issuer"))])).trim().to_owned();
    let overseer = ok(veilwatch(&["keygen", "--out", path(&at("overseer"))])).trim().to_owned();
    let kiosk = ok(veilwatch(&["keygen", "--out", path(&at("kiosk"))])).trim().to_owned();
    let (list, deployment_key) = authority_watchlist(&at("issuer"));
    std::fs::write(at("list.vwl"), list).unwrap();
    std::fs::write(at("local.json"), template(r#"{"kind":"local"}"#)).unwrap();
    std::fs::write(at("authority.json"), template(r#"{"kind":"authority","url":"https://authority.example"}"#))
        .unwrap();
    std::fs::write(at("plain-http.json"), template(r#"{"kind":"authority","url":"http://authority.example"}"#))
        .unwrap();
    let sign = |template: &str, out: &str, extra: &[&str]| {
        let (keys, list, template, out) = (at("issuer"), at("list.vwl"), at(template), at(out));
        let mut args = vec![
            "profile",
            "sign",
            "--keys",
            path(&keys),
            "--watchlist",
            path(&list),
            "--template",
            path(&template),
            "--out",
            path(&out),
        ];
        args.extend_from_slice(extra);
        veilwatch(&args)
    };

    ok(sign("authority.json", "authority.vwp", &["--kiosk-key", &kiosk]));
    let signed = std::fs::read_to_string(at("authority.vwp")).unwrap();
    assert!(signed.contains(&format!("\"kioskKeys\":[\"{kiosk}\"]")), "{signed}");
    assert!(
        signed.contains(&format!("\"authorityPublicKey\":\"{deployment_key}\"")),
        "filled in from the header: {signed}"
    );
    let other_key = "e2".repeat(32);
    std::fs::write(
        at("other-key.json"),
        template(&format!(
            r#"{{"kind":"authority","url":"https://authority.example","authorityPublicKey":"{other_key}"}}"#
        )),
    )
    .unwrap();
    let mismatch = refused(sign("other-key.json", "other.vwp", &["--kiosk-key", &kiosk]));
    assert!(mismatch.contains("not the watchlist's deployment key"), "{mismatch}");
    let verified = ok(veilwatch(&[
        "profile",
        "verify",
        path(&at("authority.vwp")),
        "--issuer",
        &issuer,
        "--watchlist",
        path(&at("list.vwl")),
    ]));
    assert!(verified.contains("kiosks allowed: 1"), "{verified}");
    assert!(refused(sign("authority.json", "none.vwp", &[])).contains("kioskKeys"));
    assert!(refused(sign("plain-http.json", "http.vwp", &["--kiosk-key", &kiosk])).contains("https://"));

    ok(sign("local.json", "local.vwp", &[]));
    let without = refused(veilwatch(&[
        "profile",
        "verify",
        path(&at("local.vwp")),
        "--issuer",
        &issuer,
        "--overseer-key",
        &overseer,
    ]));
    assert!(without.contains("co-signature, and it is missing"), "{without}");
    let cosigned = ok(veilwatch(&[
        "profile",
        "cosign",
        path(&at("local.vwp")),
        "--keys",
        path(&at("overseer")),
        "--out",
        path(&at("cosigned.vwp")),
    ]));
    assert!(cosigned.contains(&overseer), "{cosigned}");
    let verified = ok(veilwatch(&[
        "profile",
        "verify",
        path(&at("cosigned.vwp")),
        "--issuer",
        &issuer,
        "--overseer-key",
        &overseer,
    ]));
    assert!(verified.contains("co-signed by the overseer") && verified.contains("any device"), "{verified}");
    let foreign = refused(veilwatch(&[
        "profile",
        "verify",
        path(&at("cosigned.vwp")),
        "--issuer",
        &issuer,
        "--overseer-key",
        &kiosk,
    ]));
    assert!(foreign.contains("not the one this kiosk is configured with"), "{foreign}");
    let unconfigured = refused(veilwatch(&["profile", "verify", path(&at("cosigned.vwp")), "--issuer", &issuer]));
    assert!(unconfigured.contains("no overseer key configured"), "{unconfigured}");
    std::fs::remove_dir_all(&scratch).unwrap();
}
