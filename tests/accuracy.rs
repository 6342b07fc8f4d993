//! The evaluation protocol (`veilwatch eval`'s, called here as the library function) on the whole
//! LFW development split: the report has the documented shape and the pipeline reaches TAR ≥ 0.97
//! at FMR 1e-4 (a reference pipeline with these models measured 0.976; less means alignment or
//! pre-processing is wrong). Run in release.

mod common;

use veilwatch::blind::{DEFAULT_TABLES, DEFAULT_THRESHOLD};
use veilwatch::eval::measured::{MEASURED_FMR, MEASURED_GROUP_RATES};
use veilwatch::eval::metrics::FMR_POINTS;
use veilwatch::eval::protocol::{evaluate, EvalOptions};

#[test]
fn lfw_verification_accuracy_and_report_shape() {
    let (Some(engine), Some(images), Some(labels)) = (common::engine(), common::lfw_images(), common::lfw_labels())
    else {
        return;
    };
    let options = EvalOptions {
        dataset: images,
        groups: Some(labels.join("groups.csv")),
        label_noise: Some(labels.join("lfw_label_noise_pairs.csv")),
        per_identity: 10,
        tables: DEFAULT_TABLES,
    };
    let report = serde_json::to_value(evaluate(&engine, &options, &()).unwrap()).unwrap();

    for key in ["images", "identities", "detection_failures", "genuine_pairs", "impostor_pairs"] {
        assert!(report[key].is_u64(), "{key} missing");
    }
    assert!(report["images"].as_u64().unwrap() > 4000);
    assert!(report["detection_failures"].as_u64().unwrap() < 20);
    let cosine = &report["cosine"];
    for fmr in ["1e-3", "1e-4", "1e-5", "1e-6"] {
        let tar = cosine["tar_at_fmr"][fmr].as_f64().unwrap_or_else(|| panic!("TAR at {fmr} missing"));
        assert!((0.0..=1.0).contains(&tar));
        assert!(cosine["threshold_at_fmr"][fmr].is_f64());
    }
    assert!(cosine["auc"].as_f64().unwrap() > 0.99);
    let tar = cosine["tar_at_fmr"]["1e-4"].as_f64().unwrap();
    eprintln!("TAR at FMR 1e-4: {tar:.4}, at 1e-5: {}", cosine["tar_at_fmr"]["1e-5"]);
    assert!(tar >= 0.97, "TAR {tar} at FMR 1e-4 is below 0.97");
    let blind = &report["blind"];
    assert_eq!(blind["tables"].as_u64(), Some(DEFAULT_TABLES as u64));
    let (b4, b5) = (blind["tar_at_fmr"]["1e-4"].as_f64().unwrap(), blind["tar_at_fmr"]["1e-5"].as_f64().unwrap());
    eprintln!("blind TAR at FMR 1e-4: {b4:.4} (m = {}), at 1e-5: {b5:.4}", blind["threshold_at_fmr"]["1e-4"]);
    assert!(b4 >= 0.96, "blind TAR {b4} at FMR 1e-4 is below 0.96");
    assert!(b5 >= 0.92, "blind TAR {b5} at FMR 1e-5 is below 0.92");
    assert_eq!(
        blind["threshold_at_fmr"]["1e-4"].as_f64(),
        Some(DEFAULT_THRESHOLD as f64),
        "the default threshold must be the measured count at FMR 1e-4"
    );
    for ((key, _), (m, _)) in FMR_POINTS.iter().zip(MEASURED_FMR) {
        assert_eq!(blind["threshold_at_fmr"][*key].as_f64(), Some(m as f64), "the kiosk's FMR table at {key}");
    }
    for (group, identities, fmr, fnmr) in MEASURED_GROUP_RATES {
        let g = &blind["by_group"][group];
        assert_eq!(g["identities"].as_u64(), Some(identities as u64), "{group}");
        let (got_fmr, got_fnmr) = (g["fmr"].as_f64().unwrap(), g["fnmr"].as_f64().unwrap());
        eprintln!("blind {group}: FMR {got_fmr:.2e}, FNMR {got_fnmr:.4}");
        assert!(
            (got_fmr - fmr).abs() <= 0.01 * fmr && (got_fnmr - fnmr).abs() <= 0.001,
            "{group}: the kiosk shows stale rates"
        );
    }
    for method in ["cosine", "blind"] {
        let id = &report["identification"][method];
        assert!(id["gallery"].as_u64().unwrap() > 500, "{method}");
        let fnir = id["fnir_at_fpir"]["1/1000"].as_f64().unwrap();
        assert!((0.0..0.5).contains(&fnir), "{method}: FNIR {fnir} at FPIR 1/1000");
    }
    for group in ["male", "female"] {
        let g = &cosine["by_group"][group];
        for key in ["identities", "genuine_pairs", "impostor_pairs"] {
            assert!(g[key].as_u64().unwrap() > 0, "{group}.{key}");
        }
        assert!(g["fmr"].is_f64() && g["fnmr"].is_f64(), "{group}");
        assert!(blind["by_group"][group]["fnmr"].is_f64(), "blind {group}");
    }

    // The calibration model (DESIGN §7) against direct counts wherever those are measurable
    // (at least 20 impostor pairs at or above m: FMR down to ~1.5e-6 here).
    let points = report["calibration"]["points"].as_array().unwrap();
    let (mut compared, mut outside) = (0, Vec::new());
    for point in points {
        let (m, pairs) = (point["m"].as_u64().unwrap(), point["pairs"].as_u64().unwrap());
        let (direct, model) = (point["fmr_direct"].as_f64().unwrap(), point["fmr_model"].as_f64().unwrap());
        if pairs < 20 || direct > 1e-3 {
            continue;
        }
        eprintln!("calibration m = {m}: direct {direct:.3e} ({pairs} pairs), model {model:.3e}, ratio {:.2}", model / direct);
        if !(0.5..=2.0).contains(&(model / direct)) {
            outside.push(m);
        }
        compared += 1;
    }
    assert!(outside.is_empty(), "the model is off by more than 2× at m = {outside:?}");
    assert!(compared >= 30, "only {compared} thresholds compared");
}
