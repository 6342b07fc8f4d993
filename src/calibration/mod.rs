//! What a deployment's threshold means for the people in front of a kiosk (DESIGN §7): the
//! calibration model, the calibration this build ships for its model, and the charts that show
//! it. Everything here builds for wasm32 and reads no file, because the kiosk shows it; measuring a
//! calibration is the evaluation's (`eval`, native), which builds on this.
//!
//! - [`model`]: FMR(L, m) and the true-match rate from cosine histograms, false-alert estimates
//!   per passer-by, thresholds for a target.
//! - [`shipped`]: the calibration measured for the model this build runs, and the per-group rates
//!   the kiosk shows.
//! - [`chart`]: the operating-point and DET charts (SVG), and the drawing kit the HTML report
//!   draws its own charts with.

pub mod chart;
pub mod model;
pub mod shipped;
