//! The operating points measured on the LFW development split (`veilwatch eval`), as the kiosk
//! displays them: the false-match rate at each collision threshold of the default tables, and the
//! error rates per demographic group at the default threshold. `tests/accuracy.rs` re-measures them,
//! so a change to the pipeline that moves them fails there, not silently on a kiosk's screen.

use crate::blind::DEFAULT_TABLES;

/// Per-comparison false-match rate at collision threshold m for [`DEFAULT_TABLES`] tables,
/// measured by `veilwatch eval` on LFW impostor pairs: (m, FMR).
pub const MEASURED_FMR: [(u16, f64); 4] = [(41, 1e-3), (53, 1e-4), (67, 1e-5), (81, 1e-6)];

/// Measured error rates per demographic group at [`crate::blind::DEFAULT_THRESHOLD`] (`veilwatch eval --groups
/// labels/groups.csv` on the LFW development split): (group, identities, FMR, FNMR). Shown on the
/// kiosk so that nobody mistakes one overall rate for everyone's. The accuracy test re-measures them.
pub const MEASURED_GROUP_RATES: [(&str, u32, f64, f64); 2] =
    [("female", 732, 3.20e-4, 0.0545), ("male", 2095, 1.16e-4, 0.0280)];

/// Expected false alerts per 1 000 passers-by (one match attempt each) for a watchlist of
/// `entries` at threshold m: 1000 · (1 − (1 − FMR(m))^entries), with FMR(m) interpolated
/// log-linearly between the measured points. `None` outside the measured range or for another L.
pub fn expected_false_alerts_per_1000(entries: u32, tables: u16, threshold: u16) -> Option<f64> {
    if tables != DEFAULT_TABLES {
        return None;
    }
    let pair = MEASURED_FMR.windows(2).find(|w| (w[0].0..=w[1].0).contains(&threshold))?;
    let (m0, f0, m1, f1) = (pair[0].0 as f64, pair[0].1.ln(), pair[1].0 as f64, pair[1].1.ln());
    let fmr = (f0 + (threshold as f64 - m0) / (m1 - m0) * (f1 - f0)).exp();
    Some(1000.0 * (1.0 - (1.0 - fmr).powf(entries as f64)))
}
