//! `veilwatch cohort` and `enroll --stranger-cohort` as an issuer runs them, on real faces: the
//! cohort file is written mode 0600; enrolment prints the per-entry estimate beside the recipe
//! calibration's and writes it beside the watchlist; `profile sign --false-alerts` records it in the
//! profile; a file that is not a cohort, a damaged one and one made with another model are refused
//! with messages that say so.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use veilwatch::eval::cohort::{Cohort, PipelineIdentity};
use veilwatch::Embedding;

fn veilwatch(models: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veilwatch"))
        .env("VEILWATCH_MODELS", models)
        .args(args)
        .output()
        .expect("veilwatch runs")
}

fn ok(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "failed: {stderr}");
    stderr
}

fn refused(output: Output) -> String {
    assert!(!output.status.success(), "accepted: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stderr).unwrap()
}

/// `dir/NAME` → `from/NAME` for each of `names` (the faces stay in the shared data folder).
fn link_folders(from: &Path, names: &[String], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for name in names {
        std::os::unix::fs::symlink(from.join(name), dir.join(name)).unwrap();
    }
}

fn folders(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn the_issuer_builds_a_cohort_enrols_against_it_and_signs_the_estimate_into_the_profile() {
    let (Some(models), Some(images), Some(utkface)) = (common::models_dir(), common::lfw_images(), common::utkface())
    else {
        return;
    };
    let scratch = std::env::temp_dir().join(format!("veilwatch-cli-cohort-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let (people, strangers) = (scratch.join("people"), scratch.join("strangers"));
    let lfw = folders(&images);
    link_folders(&images, &lfw[..8], &people);
    link_folders(&utkface.join("images"), &folders(&utkface.join("images"))[..300], &strangers);
    let path = |name: &str| scratch.join(name).to_str().unwrap().to_owned();
    let cache = common::embedding_cache();

    let said = ok(veilwatch(
        &models,
        &[
            "cohort",
            "--fillers",
            &path("strangers"),
            "--limit",
            "200",
            "--out",
            &path("strangers.cohort"),
            "--embedding-cache",
            cache.to_str().unwrap(),
        ],
    ));
    assert!(said.contains("from 200 folders"), "{said}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(scratch.join("strangers.cohort")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the cohort holds embeddings of real people");

    ok(veilwatch(&models, &["keygen", "--out", &path("keys")]));
    let enrol = |cohort: &str| {
        veilwatch(
            &models,
            &[
                "enroll",
                &path("people"),
                "--keys",
                &path("keys"),
                "--out",
                &path("list.vwl"),
                "--target-fpir",
                "1/1000",
                "--stranger-cohort",
                cohort,
            ],
        )
    };
    let said = ok(enrol(&path("strangers.cohort")));
    assert!(said.contains("recipe calibration:") && said.contains("per-entry, cohort of"), "{said}");
    let estimate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scratch.join("list.vwl.false-alerts.json")).unwrap()).unwrap();
    let m = estimate["threshold"].as_u64().unwrap();
    let template = format!(
        r#"{{"purpose":"CLI test","legalBasis":"test","operator":"Veilwatch CI","location":"bench",
        "validFrom":"2020-01-01T00:00:00Z","validUntil":"2099-01-01T00:00:00Z","threshold":{m},"thresholdFloor":{m},
        "custody":{{"kind":"local"}},"queryRatePerMinute":60,"notice":"n","contact":"c"}}"#
    );
    std::fs::write(scratch.join("template.json"), template).unwrap();
    let sign = |estimate: &str| {
        veilwatch(
            &models,
            &[
                "profile",
                "sign",
                "--keys",
                &path("keys"),
                "--watchlist",
                &path("list.vwl"),
                "--template",
                &path("template.json"),
                "--false-alerts",
                estimate,
                "--out",
                &path("profile.vwp"),
            ],
        )
    };
    ok(sign(&path("list.vwl.false-alerts.json")));
    let profile = std::fs::read_to_string(scratch.join("profile.vwp")).unwrap();
    assert!(profile.contains(r#""falseAlertEstimate":{"per1000":"#) && profile.contains("cohort of"), "{profile}");

    // The estimate of another enrolment (a new watchlist file) is refused.
    std::fs::copy(scratch.join("list.vwl.false-alerts.json"), scratch.join("old.json")).unwrap();
    ok(enrol(&path("strangers.cohort")));
    let said = refused(sign(&path("old.json")));
    assert!(said.contains("the false-alert estimate was written for the watchlist"), "{said}");

    // Not a cohort, a damaged one, one made with another model.
    let said = refused(enrol(&path("list.vwl")));
    assert!(said.contains("not a Veilwatch stranger cohort"), "{said}");
    let mut bytes = std::fs::read(scratch.join("strangers.cohort")).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(scratch.join("damaged.cohort"), &bytes).unwrap();
    assert!(refused(enrol(&path("damaged.cohort"))).contains("damaged"));
    let stranger = Embedding::from_values(&[0.5; veilwatch::template::EMBEDDING_DIM]).unwrap();
    let other =
        Cohort::new(PipelineIdentity { model_id: "another-model".into(), digest: [0; 32] }, vec![stranger]).unwrap();
    std::fs::write(scratch.join("other.cohort"), other.to_bytes()).unwrap();
    let said = refused(enrol(&path("other.cohort")));
    assert!(said.contains("built with the model `another-model`") && said.contains("build it again"), "{said}");

    sealed_custody_chooses_its_threshold_from_the_cohort_and_the_kiosk_shows_the_estimate(&models, &scratch);
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// Sealed custody against the same cohort: `--target-fpir` chooses the sealed threshold (exact
/// quantised scores, no model), the estimate is written beside the registration material, bound to
/// its descriptor, signed into the profile, and shown by a kiosk that loads the deployment.
fn sealed_custody_chooses_its_threshold_from_the_cohort_and_the_kiosk_shows_the_estimate(
    models: &Path,
    scratch: &Path,
) {
    use veilwatch::kiosk::{CustodyOptions, DeploymentOptions, KioskSession};
    let path = |name: &str| scratch.join(name).to_str().unwrap().to_owned();
    let enrol = |extra: &[&str]| {
        let (people, keys, out) = (path("people"), path("keys"), path("list.sealed.json"));
        let mut args = vec!["enroll", &people, "--keys", &keys, "--out", &out];
        args.extend_from_slice(&["--custody", "sealed", "--valid-until", "2099-01-01"]);
        args.extend_from_slice(extra);
        veilwatch(models, &args)
    };
    let said = refused(enrol(&["--target-fpir", "1/20"]));
    assert!(said.contains("give --stranger-cohort FILE too"), "{said}");
    // 199 strangers cannot show 1 in 100: with none alerting, the upper bound is 3.7 / 199.
    let said = refused(enrol(&["--target-fpir", "1/100", "--stranger-cohort", &path("strangers.cohort")]));
    assert!(said.contains("use a larger cohort or a looser target"), "{said}");
    let said = ok(enrol(&["--target-fpir", "1/20", "--stranger-cohort", &path("strangers.cohort")]));
    assert!(said.contains("sealed threshold") && said.contains("exact quantised scores against a cohort of"), "{said}");
    let descriptor = std::fs::read(scratch.join("list.sealed.json.deployment")).unwrap();
    let text = String::from_utf8(descriptor.clone()).unwrap();
    let json: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    let estimate: serde_json::Value =
        serde_json::from_slice(&std::fs::read(scratch.join("list.sealed.json.false-alerts.json")).unwrap()).unwrap();
    let threshold = json["thresholdMilli"].as_u64().unwrap();
    assert_eq!(estimate["threshold"].as_u64(), Some(threshold), "the estimate is for the chosen threshold");
    let per_1000 = estimate["falseAlertEstimate"]["per1000"].as_f64().unwrap();
    let upper = estimate["falseAlertEstimate"]["per1000Ci95"][1].as_f64().unwrap();
    assert!(per_1000 <= upper && upper <= 50.0, "the cohort shows 1 in 20: {per_1000} per 1 000, up to {upper}");
    eprintln!("sealed, target 1/20: threshold {threshold}, {per_1000} per 1 000 (95% up to {upper})");

    let kiosk = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let kiosk_hex = veilwatch::hex::hex(kiosk.verifying_key().as_bytes());
    let url = "http://127.0.0.1:9";
    let template = format!(
        r#"{{"purpose":"CLI test","legalBasis":"test","operator":"Veilwatch CI","location":"bench",
        "validFrom":"2020-01-01T00:00:00Z","validUntil":"2099-01-01T00:00:00Z","threshold":{threshold},
        "thresholdFloor":{threshold},"custody":{{"kind":"sealed","url":"{url}"}},"queryRatePerMinute":60,
        "notice":"n","contact":"c"}}"#
    );
    std::fs::write(scratch.join("sealed-template.json"), template).unwrap();
    let keys = path("keys");
    let mut sign = vec!["profile", "sign", "--keys", &keys, "--watchlist"];
    let (descriptor_path, template_path, estimate_path) =
        (path("list.sealed.json.deployment"), path("sealed-template.json"), path("list.sealed.json.false-alerts.json"));
    sign.extend_from_slice(&[&descriptor_path, "--template", &template_path, "--false-alerts", &estimate_path]);
    let out = path("sealed.vwp");
    sign.extend_from_slice(&["--kiosk-key", &kiosk_hex, "--out", &out]);
    ok(veilwatch(models, &sign));
    let profile = std::fs::read_to_string(scratch.join("sealed.vwp")).unwrap();
    assert!(profile.contains("exact quantised scores"), "{profile}");

    let issuer = common::kiosk::issuer_key(&scratch.join("keys"));
    let mut session = KioskSession::new(common::engine().unwrap());
    let options = DeploymentOptions {
        watchlist: descriptor,
        issuer_key: veilwatch::hex::hex(issuer.verifying_key().as_bytes()),
        profile: Some(profile),
        custody: CustodyOptions::Sealed { url: url.into() },
        kiosk_public_key: Some(kiosk_hex),
    };
    let now = veilwatch::time::now_unix();
    assert!(session.begin_load_deployment(options, now).unwrap().is_none(), "loaded without a round trip");
    let status = session.status(now);
    assert_eq!((status.custody, u64::from(status.threshold)), (Some("bfv-sealed"), threshold));
    let shown = status.issuer_false_alerts.expect("the kiosk shows the issuer's estimate");
    assert_eq!(shown.per_1000, per_1000);
    assert!(status.expected_false_alerts_per_1000.is_none(), "and no LSH calibration");
}
