//! The evaluation protocol (`veilwatch eval`'s, called here as the library function) on the whole
//! LFW development split: the report has the documented shape and the pipeline reaches TAR ≥ 0.97
//! at FMR 1e-4 (a reference pipeline with these models measured 0.976; less means alignment or
//! pre-processing is wrong). Run in release.

mod common;

use veilwatch::blind::{DEFAULT_TABLES, DEFAULT_THRESHOLD};
use veilwatch::calibration::model::{CalibrationData, MAX_TEMPLATE_PHOTOS};
use veilwatch::calibration::shipped;
use veilwatch::eval::protocol::{evaluate, EvalOptions, Fillers};

#[test]
fn lfw_verification_accuracy_and_report_shape() {
    let (Some(engine), Some(images), Some(labels), Some(utkface)) =
        (common::engine(), common::lfw_images(), common::lfw_labels(), common::utkface())
    else {
        return;
    };
    let options = EvalOptions {
        dataset: images,
        groups: Some(labels.join("groups.csv")),
        label_noise: Some(labels.join("lfw_label_noise_pairs.csv")),
        per_identity: 10,
        tables: DEFAULT_TABLES,
        fillers: Some(Fillers {
            dataset: utkface.join("images"),
            groups: utkface.join("labels/groups_race_gender.csv"),
            same_person: Some(common::repo_dir().join("labels/utkface_same_person_as_lfw.csv")),
        }),
        embedding_cache: Some(common::embedding_cache()),
    };
    let evaluated = evaluate(&engine, &options, &()).unwrap();
    let html = veilwatch::eval::report::render_html(&evaluated);
    let report = serde_json::to_value(&evaluated).unwrap();
    the_report_shows_the_operating_point(&html, &report["operating_points"]);

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
    the_sealed_column_costs_at_most_a_fifth_of_a_point(&report);
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
        eprintln!(
            "calibration m = {m}: direct {direct:.3e} ({pairs} pairs), model {model:.3e}, ratio {:.2}",
            model / direct
        );
        if !(0.5..=2.0).contains(&(model / direct)) {
            outside.push(m);
        }
        compared += 1;
    }
    assert!(outside.is_empty(), "the model is off by more than 2× at m = {outside:?}");
    assert!(compared >= 30, "only {compared} thresholds compared");

    operating_points_per_passer_by(&report["operating_points"]);
}

/// DESIGN §7 on the development data: thresholds chosen per passer-by, TPIR with intervals, per
/// group FPIR, and the calibration the kiosk ships agreeing with what was just measured.
/// Sealed custody's column (issue 20's accuracy target): quantising templates for the BFV scheme
/// (S = 128) costs at most 0.2 pp of TAR at FMR 1e-4 and 1e-5 against float cosine on the whole
/// development split, and its identification section is there.
fn the_sealed_column_costs_at_most_a_fifth_of_a_point(report: &serde_json::Value) {
    let sealed = &report["sealed"];
    for fmr in ["1e-3", "1e-4", "1e-5", "1e-6"] {
        let (tar, change) = (&sealed["tar_at_fmr"][fmr], &sealed["tar_change_pp"][fmr]);
        eprintln!("sealed TAR at FMR {fmr}: {tar} ({change} pp against float cosine)");
        if fmr == "1e-4" || fmr == "1e-5" {
            let change = change.as_f64().unwrap_or_else(|| panic!("sealed TAR change at {fmr} missing"));
            let expected = tar.as_f64().unwrap() - report["cosine"]["tar_at_fmr"][fmr].as_f64().unwrap();
            assert!((change - 100.0 * expected).abs() < 1e-9, "the change is sealed minus float, in pp");
            assert!(change >= -0.2, "quantising costs {change:.2} pp of TAR at FMR {fmr}");
        }
    }
    assert!(sealed["identification"]["fnir_at_fpir"].is_object());
}

fn operating_points_per_passer_by(points: &serde_json::Value) {
    let fresh: CalibrationData = serde_json::from_value(points["calibration"].clone()).unwrap();
    let shipped = shipped::calibration();
    for m in [41, 53, 80, 120, 154] {
        let (a, b) = (fresh.fmr(DEFAULT_TABLES, m), shipped.fmr(DEFAULT_TABLES, m));
        assert!((a / b - 1.0).abs() < 0.05, "m = {m}: shipped FMR {b:.3e}, measured now {a:.3e}: the kiosk shows stale rates; regenerate models/sface-2021dec-int8bq.calibration.json");
        let (a, b) = (fresh.true_match_rate(DEFAULT_TABLES, m), shipped.true_match_rate(DEFAULT_TABLES, m));
        assert!((a - b).abs() < 0.005, "m = {m}: shipped true-match rate {b:.4}, measured now {a:.4}");
    }
    for photos in 1..=MAX_TEMPLATE_PHOTOS {
        for m in [41, 53, 80, 120] {
            let (a, b) = (
                fresh.recipe_rate(photos, DEFAULT_TABLES, m).unwrap(),
                shipped.recipe_rate(photos, DEFAULT_TABLES, m).unwrap(),
            );
            assert!(
                (a.fmr / b.fmr - 1.0).abs() < 0.05 && a.population == b.population,
                "{photos} photos, m = {m}: shipped {b:?}, measured now {a:?}: regenerate the shipped calibration"
            );
        }
    }
    assert_eq!(fresh.recipes.len(), 2 * MAX_TEMPLATE_PHOTOS, "every recipe against LFW strangers and the fillers");
    assert_eq!(fresh.stranger_groups.len(), 10, "race × gender groups of the fillers");
    assert_eq!(fresh.genuine_track_groups.len(), 2, "gender of the watchlisted people");

    let list = points["points"].as_array().unwrap();
    assert_eq!(list.len(), 3 * 2 * 2, "FPIR × N × protocol");
    for p in list {
        let label = format!("{} N={} {}", p["fpir"], p["watchlist_size"], p["protocol"]);
        let target = veilwatch::governance::profile::parse_rate(p["fpir"].as_str().unwrap()).unwrap();
        let (n, m) = (p["watchlist_size"].as_u64().unwrap(), p["m"].as_u64().unwrap() as u16);
        // m is the smallest threshold whose FPIR for N entries made as the evaluated templates
        // were (their mix of recipes, repeated) meets the target, by the calibration per recipe
        // (what `enroll` would choose).
        let mix: Vec<usize> =
            points["template_photos"].as_array().unwrap().iter().map(|k| k.as_u64().unwrap() as usize).collect();
        assert_eq!(mix.len(), points["templates"].as_u64().unwrap() as usize, "a recipe per template");
        let photos: Vec<usize> = mix.iter().copied().cycle().take(n as usize).collect();
        let fpir_at = |m: u16| fresh.estimate(&photos, DEFAULT_TABLES, m).unwrap().per_1000 / 1000.0;
        assert!(fpir_at(m) <= target, "{label}");
        assert!(fpir_at(m - 1) > target, "{label}: m - 1 would do");
        let tpir = p["tpir_blind"].as_f64().unwrap();
        let [low, high] = [p["tpir_blind_ci95"][0].as_f64().unwrap(), p["tpir_blind_ci95"][1].as_f64().unwrap()];
        assert!(low <= tpir && tpir <= high && high - low < 0.1, "{label}: TPIR {tpir} in [{low}, {high}]");
        let groups = p["by_group"]["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 12, "{label}");
        for g in groups {
            let (v, low, high) =
                (g["fpir"].as_f64().unwrap(), g["fpir_ci95"][0].as_f64().unwrap(), g["fpir_ci95"][1].as_f64().unwrap());
            assert!(low <= v && v <= high, "{label} {}: {v} not in [{low}, {high}]", g["group"]);
        }
        eprintln!(
            "{label}: m = {m}, cosine {}, FMR {:.2e}, TPIR blind {tpir:.3} [{low:.3}, {high:.3}], cosine {}, group max/min {}",
            p["cosine_threshold"], p["fmr_per_comparison"].as_f64().unwrap(), p["tpir_cosine"], p["by_group"]["max_min_ratio"]
        );
    }
    // The figure the police quote is TPIR 0.89 at FPIR 1/6000 with 10 000 entries; SFace through
    // the blinding gets ~0.85 (README). This guards against regressions, not the target.
    let headline = list
        .iter()
        .find(|p| p["fpir"] == "1/6000" && p["watchlist_size"] == 10_000 && p["protocol"] == "track")
        .unwrap();
    assert!(headline["tpir_blind"].as_f64().unwrap() >= 0.80, "{headline}");
    let differential = &points["no_significant_differential"];
    eprintln!("no significant differential between groups from m = {}", differential["lowest_m"]);
    assert!(differential["lowest_m"].as_u64().is_some(), "{differential}");
}

/// The HTML report people read: self-contained, with the chosen operating point's numbers and
/// charts, and the per-group verdict in words.
fn the_report_shows_the_operating_point(html: &str, points: &serde_json::Value) {
    assert!(html.starts_with("<!doctype html>") && html.contains("</html>"));
    for external in ["http://", "https://", "src=", "<script", "<link"] {
        assert!(!html.contains(external), "the report must be self-contained ({external})");
    }
    let chosen = points["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["fpir"] == "1/6000" && p["watchlist_size"] == 10_000 && p["protocol"] == "track")
        .unwrap();
    assert!(html.contains(&format!("m = {}", chosen["m"])), "the chosen m is named");
    assert!(html.matches("<svg").count() >= 3, "DET and FPIR-vs-threshold charts");
    let ratio = chosen["by_group"]["max_min_ratio"].as_f64().unwrap();
    let verdict = if ratio <= 2.0 { "Holds" } else { "Does not hold" };
    assert!(html.contains(verdict), "the max/min ≤ 2 verdict is said plainly ({verdict})");
    assert!(html.contains("Levers"), "the levers table");
    // The report shows per group what the kiosk's status panel shows, from the same method.
    assert!(html.contains("What a kiosk shows for this watchlist"), "the kiosk's per-group figures");
    let method = veilwatch::calibration::shipped::GROUP_CALIBRATION.replace('\'', "&#39;");
    assert!(html.contains(&method), "and where they come from");
    levers_hold_their_fpir_on_strangers_they_were_not_fitted_on(points);
}

/// Issue 17 item 6: every lever is measured at an honest threshold. Each template setting's m is
/// fitted on half of the strangers; on the other half its FPIR must stay within a few times the
/// target (1/6 000 with 10 000 entries: a model extrapolation either way, so the check is a
/// factor, not an interval), or the lever's TPIR is bought with false alerts. Per-entry thresholds
/// are the exception the README names: a cohort cannot see the tail, which this row shows.
fn levers_hold_their_fpir_on_strangers_they_were_not_fitted_on(points: &serde_json::Value) {
    let target = 1.0 / 6000.0;
    let levers = points["levers"].as_array().unwrap();
    assert!(levers.len() >= 8, "every lever is measured: {levers:?}");
    for lever in levers {
        let (name, fpir, fitted) =
            (lever["lever"].as_str().unwrap(), lever["fpir"].as_f64().unwrap(), lever["fpir_fitted"].as_f64().unwrap());
        eprintln!(
            "LEVER {name} | {} | {} frames | m {:.1} | FPIR held out {fpir:.2e} (fitted {fitted:.2e}) | TPIR {:.3} {:?}",
            lever["template"].as_str().unwrap(),
            lever["track_photos"],
            lever["m"].as_f64().unwrap(),
            lever["tpir_blind"].as_f64().unwrap(),
            lever["tpir_blind_ci95"],
        );
        if name != "per-entry thresholds" {
            assert!(fitted <= target, "{name}: the threshold meets the target where it was fitted ({fitted:.2e})");
            assert!(fpir <= 5.0 * target, "{name}: FPIR {fpir:.2e} on held-out strangers, target {target:.2e}");
        }
    }
}
