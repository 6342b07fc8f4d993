//! Human review (G6): a match becomes an alert that waits for a person to confirm, reject or mark
//! it unsure. The probe crop the reviewer compares with the reference photo is a [`ProbeCrop`],
//! which wipes itself; the pending copy is dropped (wiped) the moment the review is recorded.

use serde::{Serialize, Serializer};
use zeroize::Zeroizing;

use super::KioskError;
use crate::blind::record::EntryRecord;
use crate::pipeline::AlignedFace;

/// The 112×112 RGBA probe crop shown to the reviewer beside the reference photo. Zeroised on drop.
#[derive(Clone, Default)]
pub struct ProbeCrop(Zeroizing<Vec<u8>>);

impl ProbeCrop {
    pub fn from_aligned(crop: &AlignedFace) -> ProbeCrop {
        let mut rgba = Zeroizing::new(Vec::with_capacity(crop.rgb().len() / 3 * 4));
        for p in crop.rgb().chunks_exact(3) {
            rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
        ProbeCrop(rgba)
    }

    pub fn rgba(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for ProbeCrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProbeCrop({} bytes, withheld)", self.0.len())
    }
}

/// JS receives the crop as a `Uint8Array` (serde bytes).
impl Serialize for ProbeCrop {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

/// An alert as the reviewer sees it: the sealed record that opened, and the probe crop. Under
/// authority custody the record (the reviewer material) arrives later, through a disclosure
/// ([`super::authority_round_trips::DisclosureRequest`]); until then `record` is absent and `material` says why.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    pub id: u32,
    pub track: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub record: Option<EntryRecord>,
    /// Why the record is not shown (yet): "waiting for the reviewer material from the authority",
    /// or "material not available: <reason>". Absent once the record is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub material: Option<String>,
    /// How many of the watchlist's tables agree, and the cosine that implies. Under sealed custody
    /// there are no tables: `tables` is 0 and `implied_cosine` is the deployment's threshold, which
    /// the quantised similarity reached.
    pub collisions: u16,
    pub tables: u16,
    pub implied_cosine: f32,
    /// 112×112 RGBA probe crop for the reviewer's eyes only; clear it after the review.
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Uint8Array"))]
    pub probe: ProbeCrop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Confirmed,
    Rejected,
    Unsure,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "confirm" | "confirmed" => Some(Decision::Confirmed),
            "reject" | "rejected" => Some(Decision::Rejected),
            "unsure" => Some(Decision::Unsure),
            _ => None,
        }
    }
}

struct Pending {
    id: u32,
    /// `None` while (or because) the reviewer material has not come from the authority.
    reference_id: Option<String>,
    probe: ProbeCrop,
}

/// A review that was recorded: what the audit log keeps of it.
#[derive(Debug)]
pub struct Reviewed {
    pub alert: u32,
    /// `None` if the record never reached the kiosk (authority custody, material not available).
    pub reference_id: Option<String>,
    pub decision: Decision,
    pub reviewer: String,
}

/// Alerts waiting for a person, in the order they were raised.
pub struct Reviews {
    pending: Vec<Pending>,
    next_id: u32,
}

impl Default for Reviews {
    fn default() -> Self {
        Reviews { pending: Vec::new(), next_id: 1 }
    }
}

impl Reviews {
    /// Files a new alert for review (`reference_id`: `None` while its record is at the authority);
    /// returns its id.
    pub fn raise(&mut self, reference_id: Option<&str>, probe: ProbeCrop) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.push(Pending { id, reference_id: reference_id.map(str::to_owned), probe });
        id
    }

    /// Names the entry of pending alert `id` once its reviewer material arrived.
    pub fn set_reference(&mut self, id: u32, reference_id: &str) -> Result<(), KioskError> {
        let pending = self.pending.iter_mut().find(|p| p.id == id).ok_or(KioskError::UnknownAlert(id))?;
        pending.reference_id = Some(reference_id.to_owned());
        Ok(())
    }

    /// Whether alert `id` waits for review.
    pub fn is_pending(&self, id: u32) -> bool {
        self.pending.iter().any(|p| p.id == id)
    }

    /// Records a person's decision on alert `id` and wipes its probe crop.
    pub fn decide(&mut self, id: u32, decision: &str, reviewer: &str) -> Result<Reviewed, KioskError> {
        let decision = Decision::parse(decision).ok_or(KioskError::BadDecision)?;
        let reviewer = reviewer.trim();
        if reviewer.is_empty() {
            return Err(KioskError::NoReviewer);
        }
        let index = self.pending.iter().position(|p| p.id == id).ok_or(KioskError::UnknownAlert(id))?;
        let Pending { reference_id, probe, .. } = self.pending.remove(index);
        drop(probe);
        Ok(Reviewed { alert: id, reference_id, decision, reviewer: reviewer.to_owned() })
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Bytes of probe crops held for pending reviews.
    pub fn probe_bytes(&self) -> usize {
        self.pending.iter().map(|p| p.probe.rgba().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_needs_a_known_alert_a_decision_and_a_name_and_wipes_the_crop() {
        let mut reviews = Reviews::default();
        let id = reviews.raise(Some("REF-1"), ProbeCrop(Zeroizing::new(vec![7; 64])));
        assert_eq!((reviews.len(), reviews.probe_bytes()), (1, 64));
        assert!(matches!(reviews.decide(id, "maybe", "A"), Err(KioskError::BadDecision)));
        assert!(matches!(reviews.decide(id, "confirm", "  "), Err(KioskError::NoReviewer)));
        assert!(matches!(reviews.decide(id + 1, "confirm", "A"), Err(KioskError::UnknownAlert(_))));
        let done = reviews.decide(id, "reject", " A. Reviewer ").unwrap();
        assert_eq!(
            (done.decision, done.reviewer.as_str(), done.reference_id.as_deref()),
            (Decision::Rejected, "A. Reviewer", Some("REF-1"))
        );
        assert_eq!((reviews.len(), reviews.probe_bytes()), (0, 0));
        assert!(matches!(reviews.decide(id, "confirm", "A"), Err(KioskError::UnknownAlert(_))));
        assert_eq!(reviews.raise(None, ProbeCrop::default()), id + 1, "ids are never reused");
        assert!(reviews.is_pending(id + 1));
        reviews.set_reference(id + 1, "REF-2").unwrap();
        assert_eq!(reviews.decide(id + 1, "unsure", "A").unwrap().reference_id.as_deref(), Some("REF-2"));
    }
}
