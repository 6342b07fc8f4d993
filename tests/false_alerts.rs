//! The false-alert rate a kiosk shows is the one it has (DESIGN §7): watchlists enrolled the way
//! `enroll --target-fpir 1/1000` enrols them (templates the mean of up to k photos, m chosen from
//! the shipped calibration of each entry's recipe), of people the calibration never saw (the
//! held-out half of the LFW development identities), met by thousands of strangers it never saw
//! either (every held-out LFW identity not enrolled, look-alikes included, and a fixed sample of
//! the held-out UTKFace fillers), one quality-gated photo each, through the real blind matcher.
//! The number of strangers alerted must lie in the 95% range of what the displayed estimate
//! predicts. The same watchlists, enrolled with a stranger cohort (`enroll --stranger-cohort`: other
//! held-out fillers and the calibration half's LFW people, none of them among the strangers), must
//! meet the per-entry estimate's range too, and a generic entry must be named as close to the crowd.
//!
//! Cost: only the held-out people (up to 5 photos each) and the sampled fillers are embedded, once:
//! the embeddings are kept in `common::embedding_cache`, which the accuracy test fills as well;
//! the 6 watchlists match their strangers on every core. Run in release.

mod common;

use std::collections::HashMap;

use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use veilwatch::blind::enroll::{build, Enrolment, WatchlistParams};
use veilwatch::blind::matcher::Matcher;
use veilwatch::blind::prf::LocalHmac;
use veilwatch::blind::record::EntryRecord;
use veilwatch::blind::DEFAULT_TABLES;
use veilwatch::calibration::model::{fpir, threshold_for_fpir, FalseAlertEstimate, MAX_TEMPLATE_PHOTOS};
use veilwatch::calibration::shipped;
use veilwatch::eval::cohort::{gather, Cohort, PipelineIdentity};
use veilwatch::eval::dataset::{list_identities, read_pairs_csv, Identity};
use veilwatch::eval::embedding_cache::EmbeddingCache;
use veilwatch::eval::per_entry::CohortCosines;
use veilwatch::eval::protocol::embed_identities;
use veilwatch::eval::recipes::{calibration_half, Person};
use veilwatch::Embedding;

const TARGET_FPIR: f64 = 1.0 / 1000.0;
const NOW: i64 = 1_800_000_000;
/// Held-out UTKFace fillers met by each watchlist (a fixed sample of ~4 700): with the ~1 300
/// held-out LFW strangers, over 3 000 strangers per watchlist (issue 17 asks for ≥ 2 000), at
/// less than half the fillers' embedding cost.
const FILLERS: usize = 2000;
/// Checks of a group's count against its displayed upper bound: 6 watchlists × 10 groups.
const GROUP_CHECKS: f64 = 60.0;

/// The held-out identities of a folder (not in the calibration half), in a fixed order that is
/// not alphabetical (SHA-256 of the name), with up to `photos` photos each.
fn held_out(folder: &std::path::Path, photos: usize) -> Vec<Identity> {
    let mut identities: Vec<Identity> =
        list_identities(folder, photos).unwrap().into_iter().filter(|id| !calibration_half(&id.name)).collect();
    identities.sort_by_key(|id| Sha256::digest(id.name.as_bytes()));
    identities
}

/// The held-out UTKFace fillers who are strangers, in [`held_out`]'s order: those who are LFW
/// people (UTKFace has celebrities in it; `labels/utkface_same_person_as_lfw.csv`) left out.
fn stranger_fillers(utkface: &std::path::Path) -> Vec<Identity> {
    let same_person: Vec<(String, String)> =
        read_pairs_csv(&common::repo_dir().join("labels/utkface_same_person_as_lfw.csv")).unwrap();
    held_out(&utkface.join("images"), 1)
        .into_iter()
        .filter(|f| !same_person.iter().any(|(filler, _)| *filler == f.name))
        .collect()
}

/// What both validations run on: the engine and the embedding cache (saved by each test once it
/// has embedded all it needs), where the data is, and the embedded held-out LFW people (up to
/// [`MAX_TEMPLATE_PHOTOS`] photos each) and first [`FILLERS`] stranger fillers. `None` (a loud
/// skip, or a failure under CI) without the data or the models.
struct Validation {
    engine: veilwatch::Engine,
    cache: EmbeddingCache,
    images: std::path::PathBuf,
    labels: std::path::PathBuf,
    utkface: std::path::PathBuf,
    lfw: Vec<Person>,
    fillers: Vec<Person>,
}

fn validation() -> Option<Validation> {
    let (engine, images, labels, utkface) =
        (common::engine()?, common::lfw_images()?, common::lfw_labels()?, common::utkface()?);
    let cache = EmbeddingCache::open(Some(&common::embedding_cache()), &engine);
    let (lfw, _) = embed_identities(&engine, &held_out(&images, MAX_TEMPLATE_PHOTOS), &cache, &()).unwrap();
    let (fillers, _) = embed_identities(&engine, &stranger_fillers(&utkface)[..FILLERS], &cache, &()).unwrap();
    Some(Validation { engine, cache, images, labels, utkface, lfw, fillers })
}

/// The smallest x with P[Poisson(λ) ≤ x] ≥ q.
fn poisson_quantile(lambda: f64, q: f64) -> u64 {
    let (mut x, mut term) = (0u64, (-lambda).exp());
    let mut cdf = term;
    while cdf < q {
        x += 1;
        term *= lambda / x as f64;
        cdf += term;
    }
    x
}

/// A stranger: which population (and demographic group, for the labelled fillers), and the one
/// photo of theirs a kiosk would match.
#[derive(Clone, Copy)]
struct Stranger<'a> {
    population: &'static str,
    group: Option<&'a str>,
    name: &'a str,
    probe: &'a Embedding,
}

/// The strangers a watchlist of `templates` at threshold m alerts on, through the real blind
/// matcher (a fresh issuer key and local PRF key each time).
fn alerted_strangers<'a>(
    templates: &[(String, Embedding)],
    m: u16,
    strangers: &[Stranger<'a>],
    model_id: &str,
) -> Vec<Stranger<'a>> {
    let issuer = SigningKey::generate(&mut OsRng);
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    let prf = LocalHmac::new(key);
    let list: Vec<Enrolment> = templates
        .iter()
        .enumerate()
        .map(|(i, (name, template))| Enrolment {
            template: template.clone(),
            record: EntryRecord::new(format!("REF-{i:06}"), name.clone(), "test".into(), "LFW".into(), NOW, None),
        })
        .collect();
    let params = WatchlistParams {
        model_id: model_id.into(),
        tables: DEFAULT_TABLES,
        threshold: m,
        valid_from: NOW - 3600,
        valid_until: NOW + 3600,
    };
    let file = build(list, &params, &prf, &issuer).unwrap();
    let matcher = Matcher::load(file, &issuer.verifying_key(), &prf, model_id, NOW).unwrap();
    strangers.par_iter().copied().filter(|s| !matcher.match_embedding(s.probe, &prf, NOW).unwrap().is_empty()).collect()
}

#[test]
fn strangers_raise_the_false_alerts_the_calibration_displays() {
    let Some(Validation { engine, cache, labels, utkface, lfw, fillers, .. }) = validation() else { return };
    cache.save().unwrap();
    let noise: Vec<(String, String)> = read_pairs_csv(&labels.join("lfw_label_noise_pairs.csv")).unwrap();
    let linked = |a: &str, b: &str| noise.iter().any(|(x, y)| (x == a && y == b) || (x == b && y == a));

    let group_of: HashMap<String, String> =
        read_pairs_csv(&utkface.join("labels/groups_race_gender.csv")).unwrap().into_iter().collect();
    let held_out: Vec<&Person> = lfw.iter().filter(|p| !p.faces.is_empty()).collect();
    let held_out_fillers: Vec<Stranger> = fillers
        .iter()
        .filter_map(|p| {
            let group = group_of.get(&p.name).map(String::as_str);
            Some(Stranger { population: "utkface", group, name: &p.name, probe: p.probes().next()? })
        })
        .collect();

    let calibration = shipped::calibration();
    let mut failures = Vec::new();
    eprintln!(
        "entries  k   m  strangers  expected per 1 000 [95%]      observed (lfw + utkface)  95% range of the count"
    );
    for k in [5, 3, 1] {
        for entries in [30, 300] {
            let enrolled = &held_out[..entries];
            let photos: Vec<usize> = enrolled.iter().map(|p| p.faces.len().min(k)).collect();
            let m = calibration.threshold_for_recipes(&photos, DEFAULT_TABLES, TARGET_FPIR).unwrap();
            let estimate = calibration.estimate(&photos, DEFAULT_TABLES, m).unwrap();

            let lfw_strangers =
                held_out[entries..].iter().filter(|s| !enrolled.iter().any(|e| linked(&s.name, &e.name))).filter_map(
                    |p| Some(Stranger { population: "lfw", group: None, name: &p.name, probe: p.probes().next()? }),
                );
            let strangers: Vec<Stranger> = lfw_strangers.chain(held_out_fillers.iter().copied()).collect();
            let templates: Vec<(String, Embedding)> =
                enrolled.iter().map(|p| (p.name.clone(), p.template(k).unwrap())).collect();
            let alerted = alerted_strangers(&templates, m, &strangers, engine.model_id());

            // Before issue 17: m from the fillers alone against the evaluation's 5-photo templates
            // (what it displayed; observed 9-17x that at k = 5, see the README).
            let before_m =
                threshold_for_fpir(&calibration.strangers, DEFAULT_TABLES, entries as u64, TARGET_FPIR).unwrap();
            let before_displayed =
                1000.0 * fpir(calibration.strangers.rate_at(DEFAULT_TABLES, before_m), entries as u64);
            let from_lfw = alerted.iter().filter(|s| s.population == "lfw").count();

            let (_, [low, high]) = estimate.fpir();
            let n = strangers.len() as f64;
            let range = [poisson_quantile(n * low, 0.025), poisson_quantile(n * high, 0.975)];
            let observed = alerted.len() as u64;
            eprintln!(
                "{entries:>7} {k:>2} {m:>3} {:>10}  {:.3} [{:.3}, {:.3}]  →  {:.3} per 1 000: {observed} ({from_lfw} + {})  [{}, {}]  {}\n\
                 {:>22}  before issue 17: m = {before_m}, displayed {before_displayed:.3} per 1 000",
                strangers.len(),
                estimate.per_1000,
                estimate.per_1000_ci95[0],
                estimate.per_1000_ci95[1],
                1000.0 * observed as f64 / n,
                observed as usize - from_lfw,
                range[0],
                range[1],
                estimate.calibration,
                "",
            );
            if observed > range[1] || observed < range[0] {
                let who: Vec<&str> = alerted.iter().map(|s| s.name).collect();
                failures.push(format!(
                    "{entries} entries, k = {k}: {observed} strangers alerted, 95% range {range:?} ({who:?})"
                ));
            }
            // Issue 17 asks for ≥ 2 000; the README says over 3 000.
            assert!(strangers.len() > 3000, "{} strangers", strangers.len());

            // Per group of the labelled fillers: what the kiosk displays for the group, against the
            // group's held-out fillers alerted. The fillers are the milder population (the level
            // comes from the more pessimistic one), so only the upper bound is checked, at a
            // family-wise 5% over every group and case (Bonferroni).
            let mut line = String::new();
            for (group, _, shown) in calibration.stranger_group_estimates(&estimate, DEFAULT_TABLES, m) {
                let met = strangers.iter().filter(|s| s.group == Some(group.as_str())).count() as f64;
                let seen = alerted.iter().filter(|s| s.group == Some(group.as_str())).count() as u64;
                let most = poisson_quantile(met * shown.per_1000_ci95[1] / 1000.0, 1.0 - 0.05 / GROUP_CHECKS);
                line.push_str(&format!(
                    " {group} {seen}/{met} ({:.2} [{:.2}, {:.2}])",
                    shown.per_1000, shown.per_1000_ci95[0], shown.per_1000_ci95[1]
                ));
                if seen > most {
                    failures.push(format!(
                        "{entries} entries, k = {k}, {group}: {seen} of {met} fillers alerted, at most {most} expected"
                    ));
                }
            }
            eprintln!("{:>22}  per group, alerted/met (displayed per 1 000 [95%]):{line}", "");
        }
    }
    assert!(failures.is_empty(), "the displayed false-alert rate is not the one the kiosk has: {failures:#?}");
}

/// UTKFace fillers in the stranger cohort of [`per_entry_estimates_predict_the_alerts`]: held-out
/// fillers after the [`FILLERS`] the watchlists meet, so the cohort and the strangers are disjoint.
const COHORT_FILLERS: usize = 2000;

/// The stranger cohort an issuer would build (`veilwatch cohort`), from people the validation's
/// strangers do not include: the held-out UTKFace fillers after the first [`FILLERS`], and one
/// photo of each LFW person of the calibration half (the held-out half are the enrolled people
/// and the LFW strangers). Returned by population, each through the cohort file's bytes.
fn validation_cohorts(
    engine: &veilwatch::Engine,
    cache: &EmbeddingCache,
    images: &std::path::Path,
    utkface: &std::path::Path,
) -> Vec<(&'static str, Cohort)> {
    let fillers = &stranger_fillers(utkface)[FILLERS..FILLERS + COHORT_FILLERS];
    let lfw: Vec<Identity> =
        list_identities(images, 1).unwrap().into_iter().filter(|id| calibration_half(&id.name)).collect();
    let identity = PipelineIdentity::of(engine);
    [("utkface", fillers), ("lfw", &lfw[..])]
        .into_iter()
        .map(|(population, folders)| {
            let (cohort, gathered) = gather(engine, folders, cache, &()).unwrap();
            eprintln!(
                "cohort of {population}: {} strangers from {} folders ({} without a face, {} refused by the gates)",
                cohort.strangers().len(),
                gathered.folders,
                gathered.without_face,
                gathered.failed_gates
            );
            (population, Cohort::parse(&cohort.to_bytes(), &identity).unwrap())
        })
        .collect()
}

/// Issue 17 item 2: the per-entry estimate `enroll --stranger-cohort` prints (each template against
/// a cohort of strangers, FPIR = 1 − Π(1 − FMR_i)) predicts the alerts of strangers outside the
/// cohort. The watchlists are those of the test above, with m chosen as enroll chooses it with a
/// cohort and `--target-fpir 1/1000` (the larger of the recipe's and the per-entry threshold); the
/// count of strangers alerted must lie in the 95% range of the per-entry estimate, over all
/// strangers (against the whole cohort) and per population (against that population's cohort).
#[test]
fn per_entry_estimates_predict_the_alerts() {
    let Some(Validation { engine, cache, images, labels, utkface, lfw, fillers }) = validation() else { return };
    let cohorts = validation_cohorts(&engine, &cache, &images, &utkface);
    cache.save().unwrap();
    let noise: Vec<(String, String)> = read_pairs_csv(&labels.join("lfw_label_noise_pairs.csv")).unwrap();
    let linked = |a: &str, b: &str| noise.iter().any(|(x, y)| (x == a && y == b) || (x == b && y == a));
    let whole: Vec<Embedding> = cohorts.iter().flat_map(|(_, c)| c.strangers().iter().cloned()).collect();

    let held_out: Vec<&Person> = lfw.iter().filter(|p| !p.faces.is_empty()).collect();
    let held_out_fillers: Vec<Stranger> = fillers
        .iter()
        .filter_map(|p| Some(Stranger { population: "utkface", group: None, name: &p.name, probe: p.probes().next()? }))
        .collect();
    let calibration = shipped::calibration();
    let mut failures = Vec::new();
    eprintln!(
        "entries  k   m  per-entry [95%] (whole cohort)   recipe [95%]   observed per 1 000 (count of strangers)"
    );
    for k in [5, 3, 1] {
        for entries in [30, 300] {
            let enrolled = &held_out[..entries];
            let photos: Vec<usize> = enrolled.iter().map(|p| p.faces.len().min(k)).collect();
            let templates: Vec<(String, Embedding)> =
                enrolled.iter().map(|p| (p.name.clone(), p.template(k).unwrap())).collect();
            let bare: Vec<Embedding> = templates.iter().map(|(_, t)| t.clone()).collect();
            let cosines = CohortCosines::new(&bare, &whole);
            let by_recipe = calibration.threshold_for_recipes(&photos, DEFAULT_TABLES, TARGET_FPIR).unwrap();
            let m = by_recipe.max(cosines.threshold_for_fpir(DEFAULT_TABLES, TARGET_FPIR).unwrap());
            let per_entry = cosines.estimate(DEFAULT_TABLES, m);
            let recipe = calibration.estimate(&photos, DEFAULT_TABLES, m).unwrap();

            let lfw_strangers =
                held_out[entries..].iter().filter(|s| !enrolled.iter().any(|e| linked(&s.name, &e.name))).filter_map(
                    |p| Some(Stranger { population: "lfw", group: None, name: &p.name, probe: p.probes().next()? }),
                );
            let strangers: Vec<Stranger> = lfw_strangers.chain(held_out_fillers.iter().copied()).collect();
            let alerted = alerted_strangers(&templates, m, &strangers, engine.model_id());

            let mut check = |what: &str, estimate: &FalseAlertEstimate, population: Option<&str>| {
                let met = strangers.iter().filter(|s| population.is_none_or(|p| s.population == p)).count() as f64;
                let seen = alerted.iter().filter(|s| population.is_none_or(|p| s.population == p)).count() as u64;
                let (_, [low, high]) = estimate.fpir();
                let range = [poisson_quantile(met * low, 0.025), poisson_quantile(met * high, 0.975)];
                let line = format!(
                    "{:.3} [{:.3}, {:.3}] → {:.3} ({seen} of {met}) range {range:?}",
                    estimate.per_1000,
                    estimate.per_1000_ci95[0],
                    estimate.per_1000_ci95[1],
                    1000.0 * seen as f64 / met
                );
                if seen < range[0] || seen > range[1] {
                    failures.push(format!("{entries} entries, k = {k}, m = {m}, {what}: {line}"));
                }
                line
            };
            let overall = check("all strangers", &per_entry.list, None);
            eprintln!(
                "{entries:>7} {k:>2} {m:>3}  per-entry {overall}\n{:>15}recipe {:.3} [{:.3}, {:.3}] ({}; m by recipe alone {by_recipe}); {} outliers named",
                "",
                recipe.per_1000,
                recipe.per_1000_ci95[0],
                recipe.per_1000_ci95[1],
                recipe.calibration,
                per_entry.outliers.len(),
            );
            for (population, cohort) in &cohorts {
                let own = CohortCosines::new(&bare, cohort.strangers()).estimate(DEFAULT_TABLES, m);
                let line = check(population, &own.list, Some(population));
                eprintln!("{:>15}{population} strangers against the {population} cohort: {line}", "");
            }
        }
    }
    assert!(failures.is_empty(), "the per-entry estimate does not predict the alerts: {failures:#?}");
}

/// Issue 17 item 2: entries unusually close to the crowd are named. Among 30 ordinary held-out
/// people (templates of up to 5 photos), a generic entry enrol does not refuse — one folder holding
/// photos of eight different people, whose mean is close to everyone — must be named by the outlier
/// rule against the stranger cohort, with at most three ordinary entries named beside it (an
/// ordinary entry with a look-alike among the strangers is named too: it raises as many false
/// alerts). Printed as well, not required: two people mixed, one heavily blurred photo, one photo
/// shrunk to an eighth and enlarged again (measured: their rates are ordinary or lower).
#[test]
fn generic_entries_are_named_as_close_to_the_crowd() {
    let (Some(engine), Some(images), Some(utkface)) = (common::engine(), common::lfw_images(), common::utkface())
    else {
        return;
    };
    let cache = EmbeddingCache::open(Some(&common::embedding_cache()), &engine);
    let people = held_out(&images, MAX_TEMPLATE_PHOTOS);
    let (lfw, _) = embed_identities(&engine, &people, &cache, &()).unwrap();
    let cohorts = validation_cohorts(&engine, &cache, &images, &utkface);
    cache.save().unwrap();
    let whole: Vec<Embedding> = cohorts.iter().flat_map(|(_, c)| c.strangers().iter().cloned()).collect();
    let with_faces: Vec<&Person> = lfw.iter().filter(|p| p.faces.len() >= 2).collect();

    let mut templates: Vec<(String, Embedding)> =
        with_faces[..30].iter().map(|p| (p.name.clone(), p.template(MAX_TEMPLATE_PHOTOS).unwrap())).collect();
    let eight = Embedding::mean(with_faces[50..58].iter().map(|p| &p.faces[0].embedding)).unwrap();
    templates.push(("one photo each of eight people".into(), eight));
    let generic = templates.len() - 1;
    let (a, b) = (with_faces[40], with_faces[41]);
    let mixed = Embedding::mean(a.faces.iter().take(2).chain(b.faces.iter().take(2)).map(|f| &f.embedding)).unwrap();
    templates.push((format!("two photos each of {} and {}", a.name, b.name), mixed));
    let person = with_faces[45];
    let photo = &people.iter().find(|p| p.name == person.name).unwrap().images[0];
    let rgb = image::open(photo).unwrap().to_rgb8();
    let (w, h) = rgb.dimensions();
    let shrunk = image::imageops::resize(&rgb, w / 8, h / 8, image::imageops::FilterType::Triangle);
    let altered = [
        ("blurred (σ = 6 px)", image::imageops::blur(&rgb, 6.0)),
        ("shrunk to 1/8 and enlarged", image::imageops::resize(&shrunk, w, h, image::imageops::FilterType::Triangle)),
    ];
    for (how, picture) in altered {
        let frame = veilwatch::Frame::from_rgb(w, h, picture.into_raw()).unwrap();
        let face = engine.analyse_still(&frame).unwrap().expect("enrol finds a face in it");
        templates.push((format!("{} {how}, gates {:?}", person.name, face.quality.rejections), face.embedding));
    }

    let bare: Vec<Embedding> = templates.iter().map(|(_, t)| t.clone()).collect();
    let cosines = CohortCosines::new(&bare, &whole);
    let m = cosines.threshold_for_fpir(DEFAULT_TABLES, TARGET_FPIR).unwrap();
    let estimate = cosines.estimate(DEFAULT_TABLES, m);
    let total: f64 = estimate.entries.iter().map(|e| e.fmr).sum();
    let mut ranked: Vec<usize> = (0..templates.len()).collect();
    ranked.sort_by(|&x, &y| estimate.entries[y].fmr.total_cmp(&estimate.entries[x].fmr));
    eprintln!("{} entries against {} strangers, m = {m}; by false-match rate:", templates.len(), whole.len());
    for (rank, &i) in ranked.iter().enumerate() {
        if rank < 6 || i >= 30 {
            let named = if estimate.outliers.contains(&i) { "NAMED" } else { "" };
            let (fmr, others) =
                (estimate.entries[i].fmr, (total - estimate.entries[i].fmr) / (templates.len() - 1) as f64);
            eprintln!(
                "  #{:<2} {:<70} {fmr:.2e} ({:.1}× the others' mean) {named}",
                rank + 1,
                templates[i].0,
                fmr / others
            );
        }
    }
    let named: Vec<&str> = estimate.outliers.iter().map(|&i| templates[i].0.as_str()).collect();
    assert!(estimate.outliers.contains(&generic), "the generic entry is not named; named: {named:?}");
    let ordinary = estimate.outliers.iter().filter(|&&i| i < 30).count();
    assert!(ordinary <= 3, "{ordinary} ordinary entries named: {named:?}");
}
