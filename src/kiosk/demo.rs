//! Demo mode: volunteers at a public demonstration press "Enrol me" and the kiosk builds a
//! local-custody watchlist of them in memory (fresh issuer and key, default tables and threshold,
//! valid for a day), so that they can see themselves matched, and everyone else not.
//!
//! Rules: the largest face in view is the one enrolled (the volunteer stands closest); it must
//! pass the quality gates; the label is 1 to 80 bytes after trimming; records say they are demo
//! volunteers who consented at this kiosk. Demo mode exists only while no deployment is loaded
//! (the session refuses "Enrol me" otherwise), and it matches at most
//! [`DEMO_QUERY_RATE_PER_MINUTE`] faces a minute.

use super::deployment::{Custody, Deployment};
use super::KioskError;
use crate::blind::enroll::{ephemeral_local, Enrolment};
use crate::blind::record::EntryRecord;
use crate::pipeline::{reference_photo, Engine, Face, Frame};

pub const MAX_LABEL_BYTES: usize = 80;

/// The query-rate cap in demo mode, where no profile sets one: faces matched per minute.
pub const DEMO_QUERY_RATE_PER_MINUTE: u32 = 60;

/// The volunteers enrolled so far.
#[derive(Default)]
pub struct DemoRoster {
    volunteers: Vec<Enrolment>,
}

/// The face a volunteer presents: the largest in the frame.
fn largest(faces: &[Face]) -> Option<&Face> {
    faces.iter().max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])))
}

impl DemoRoster {
    /// Enrols the volunteer in `frame` under `label` and returns the deployment of everyone
    /// enrolled so far. Nothing changes if the face or the label is refused.
    pub fn enrol(
        &mut self,
        engine: &Engine,
        frame: &Frame,
        label: &str,
        now_unix: i64,
    ) -> Result<Deployment, KioskError> {
        let label = label.trim();
        if label.is_empty() || label.len() > MAX_LABEL_BYTES {
            return Err(KioskError::BadLabel);
        }
        let faces = engine.detect(frame)?;
        let face = largest(&faces).ok_or(KioskError::NoFaceInView)?;
        let analysed = engine.analyse_face(frame, face)?;
        if !analysed.quality.passed() {
            return Err(KioskError::PoorFace);
        }
        let record = EntryRecord::new(
            format!("DEMO-{:03}", self.volunteers.len() + 1),
            label.to_owned(),
            "demo volunteer".into(),
            "consent given at this kiosk".into(),
            now_unix,
            reference_photo(frame, face).as_deref(),
        );
        let mut volunteers = self.volunteers.clone();
        volunteers.push(Enrolment { template: analysed.embedding, record });
        let (matcher, prf) = ephemeral_local(volunteers.clone(), engine.model_id(), now_unix)?;
        self.volunteers = volunteers;
        Ok(Deployment { custody: Custody::Local { matcher, prf }, profile: None })
    }

    pub fn len(&self) -> usize {
        self.volunteers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.volunteers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(w: f32, h: f32) -> Face {
        Face { bbox: [0.0, 0.0, w, h], landmarks: [[0.0; 2]; 5], score: 0.9 }
    }

    #[test]
    fn the_volunteer_is_the_largest_face() {
        let faces = [face(10.0, 10.0), face(40.0, 50.0), face(30.0, 30.0)];
        assert_eq!(largest(&faces).unwrap().bbox[2], 40.0);
        assert!(largest(&[]).is_none());
    }
}
