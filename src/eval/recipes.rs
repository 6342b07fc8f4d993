//! Fitting the false-match calibration the way deployments make impostor pairs (DESIGN §7):
//! templates built exactly as `enroll` builds them (the mean of k photos, for every k from 1 to
//! [`MAX_TEMPLATE_PHOTOS`]), against single probes that pass the kiosk's quality gates, from two
//! stranger populations — LFW development identities other than the template's (same domain,
//! look-alikes included) and the UTKFace fillers (another photographic domain). The kiosk and
//! `enroll` then use the most pessimistic population that applies.
//!
//! Only the people of the [`calibration_half`] are fitted on; the other half is held out, so that
//! `tests/false_alerts.rs` can count real alerts on people the calibration has never seen.

use std::collections::HashSet;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::embedding_cache::StillFace;
use crate::calibration::model::{RecipeCalibration, ScoreHistogram, MAX_TEMPLATE_PHOTOS};
use crate::template::Embedding;

/// Whether a person (by folder name) belongs to the half the calibration is fitted on; the other
/// half is held out for validation. A fixed hash, so that both sides agree without a list.
pub fn calibration_half(name: &str) -> bool {
    Sha256::digest(name.as_bytes())[0] & 1 == 0
}

/// One person's photos that show a face, in file order.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub faces: Vec<StillFace>,
}

impl Person {
    /// The template `enroll` builds from this person's first `photos` faces.
    pub fn template(&self, photos: usize) -> Option<Embedding> {
        Embedding::mean(self.faces.iter().take(photos).map(|f| &f.embedding))
    }

    /// The faces a kiosk would match: those passing the quality gates.
    pub fn probes(&self) -> impl Iterator<Item = &Embedding> {
        self.faces.iter().filter(|f| f.passed_gates).map(|f| &f.embedding)
    }
}

/// Name pairs that are not impostors (one person under two names, mislabels), either order.
pub type NotImpostors = HashSet<(String, String)>;

/// The calibrations of every recipe against both populations, fitted on the calibration half of
/// `lfw` (people with their photos) and of `fillers` (one photo each).
pub fn fit(lfw: &[Person], fillers: &[Person], not_impostors: &NotImpostors) -> Vec<RecipeCalibration> {
    let lfw: Vec<&Person> = lfw.iter().filter(|p| calibration_half(&p.name)).collect();
    let fillers: Vec<&Embedding> =
        fillers.iter().filter(|p| calibration_half(&p.name)).flat_map(|p| p.probes().take(1)).collect();
    let lfw_strangers: usize = lfw.iter().map(|p| p.probes().count()).sum();
    let mut calibrations = Vec::new();
    for photos in 1..=MAX_TEMPLATE_PHOTOS {
        let templates: Vec<(&str, Embedding)> = lfw
            .iter()
            .filter(|p| p.faces.len() >= photos)
            .filter_map(|p| Some((p.name.as_str(), p.template(photos)?)))
            .collect();
        let same_domain = lfw
            .par_iter()
            .map(|stranger| {
                let mut h = ScoreHistogram::default();
                for (name, template) in &templates {
                    let linked = not_impostors.contains(&(stranger.name.clone(), name.to_string()));
                    if *name != stranger.name && !linked {
                        for probe in stranger.probes() {
                            h.add(probe.cosine(template));
                        }
                    }
                }
                h
            })
            .reduce(ScoreHistogram::default, merge);
        let other_domain = fillers
            .par_iter()
            .map(|probe| ScoreHistogram::from_scores(templates.iter().map(|(_, t)| probe.cosine(t))))
            .reduce(ScoreHistogram::default, merge);
        for (population, strangers, impostors) in
            [("lfw", lfw_strangers, same_domain), ("utkface", fillers.len(), other_domain)]
        {
            calibrations.push(RecipeCalibration {
                photos,
                population: population.to_owned(),
                templates: templates.len() as u64,
                strangers: strangers as u64,
                impostors,
            });
        }
    }
    calibrations
}

fn merge(mut a: ScoreHistogram, b: ScoreHistogram) -> ScoreHistogram {
    for (x, y) in a.counts.iter_mut().zip(&b.counts) {
        *x += y;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_halves_split_people_roughly_evenly_and_stably() {
        let names: Vec<String> = (0..2000).map(|i| format!("Person_{i}")).collect();
        let fitted = names.iter().filter(|n| calibration_half(n)).count();
        assert!((900..1100).contains(&fitted), "{fitted}");
        assert_eq!(calibration_half("Colin_Powell"), calibration_half("Colin_Powell"));
    }
}
