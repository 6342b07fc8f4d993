//! Measuring the system: verification and identification [`metrics`], the folder layout datasets
//! come in ([`dataset`]), the evaluation [`protocol`] that `veilwatch eval` and the accuracy test
//! run and its HTML [`report`], the issuer's [`per_entry`] estimates against a stranger
//! [`cohort`] (and sealed custody's, [`sealed_cohort`]), and how small the detector's input can be ([`detection_scale`]). The calibration
//! model, the shipped calibration and the charts the kiosk also shows are [`crate::calibration`]'s.

#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod cohort;
pub mod dataset;
#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod detection_scale;
#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod embedding_cache;
pub mod metrics;
#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod operating_points;
#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod per_entry;
#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod protocol;
#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod recipes;
#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod report;
#[cfg(all(feature = "pipeline", not(target_arch = "wasm32")))]
pub mod sealed_cohort;
