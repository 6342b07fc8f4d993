//! `veilwatch profile` as an issuer and an overseer run it: the issuer signs a profile listing the
//! kiosks allowed to run it, the overseer co-signs, and `verify --overseer-key` requires that
//! co-signature; an authority profile without kiosks, or reached over plain http off loopback, is
//! refused at signing.

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
    std::fs::write(at("list.vwl"), b"the watchlist's bytes (only their hash is signed)").unwrap();
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
