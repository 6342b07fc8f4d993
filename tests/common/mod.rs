//! Where tests find the shared face data and the models, and what they do when those are absent:
//! say so loudly and skip, except under `CI=true`, where absence is a failure so that a broken
//! path can never pass silently.
//!
//! With the CLI (the tests that start `veilwatch` processes), the one harness for them:
//! `process` (the binary, a child process, a server on loopback), `http` (the client and signed
//! requests), `kiosk` (the one kiosk fixture: kiosks, their deployments made in-process or through
//! the CLI, an authority for them) and `cluster` (Redis, haproxy, an LFW enrolment dataset).
#![allow(dead_code)]

#[cfg(feature = "cli")]
pub mod cluster;
#[cfg(feature = "cli")]
pub mod http;
#[cfg(feature = "cli")]
pub mod kiosk;
#[cfg(feature = "cli")]
pub mod process;

use std::path::{Path, PathBuf};

use veilwatch::blind::enroll::WatchlistParams;
use veilwatch::governance::profile::{Custody, Profile};
use veilwatch::pipeline::models::MANIFEST;
use veilwatch::pipeline::{Engine, Frame, ModelKind};

fn required_or_skip(what: &str, path: &Path) -> bool {
    if path.exists() {
        return true;
    }
    let message = format!("{what} not found at {} — ", path.display());
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}CI=true requires it");
    }
    eprintln!("\n!!! SKIPPED: {message}this test did not run !!!\n");
    false
}

pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `$VEILWATCH_DATA/lfw/images`, default `../shared/data` beside the checkout.
pub fn lfw_images() -> Option<PathBuf> {
    let data =
        std::env::var_os("VEILWATCH_DATA").map(PathBuf::from).unwrap_or_else(|| repo_dir().join("../shared/data"));
    let images = data.join("lfw/images");
    required_or_skip("LFW data (set VEILWATCH_DATA)", &images).then_some(images)
}

/// `$VEILWATCH_DATA/utkface`: the labelled strangers ("fillers").
pub fn utkface() -> Option<PathBuf> {
    let data =
        std::env::var_os("VEILWATCH_DATA").map(PathBuf::from).unwrap_or_else(|| repo_dir().join("../shared/data"));
    let dir = data.join("utkface");
    required_or_skip("UTKFace fillers (set VEILWATCH_DATA)", &dir.join("images")).then_some(dir)
}

/// Where tests keep the embeddings of the development photos between runs (the accuracy test and
/// the false-alert test share it): `$VEILWATCH_EMBEDDING_CACHE` if set, else
/// `$XDG_CACHE_HOME/veilwatch/eval-embeddings.json` (`~/.cache` by default), outside any clone.
/// Entries are found by each photo's content, so every checkout and data location shares them.
pub fn embedding_cache() -> PathBuf {
    if let Some(file) = std::env::var_os("VEILWATCH_EMBEDDING_CACHE") {
        return PathBuf::from(file);
    }
    let cache_home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache_home.join("veilwatch/eval-embeddings.json")
}

pub fn lfw_labels() -> Option<PathBuf> {
    lfw_images().map(|i| i.parent().expect("images has a parent").join("labels"))
}

pub fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VEILWATCH_MODELS").map(PathBuf::from).unwrap_or_else(|| repo_dir().join("models"));
    let detector = dir.join(MANIFEST[0].file);
    required_or_skip("model files (run models/fetch)", &detector).then_some(dir)
}

pub fn model_bytes(kind: ModelKind) -> Option<Vec<u8>> {
    let spec = MANIFEST.iter().find(|m| m.kind == kind).unwrap();
    Some(std::fs::read(models_dir()?.join(spec.file)).expect("model file readable"))
}

pub fn engine() -> Option<Engine> {
    let detector = model_bytes(ModelKind::Detector)?;
    let recognizer = model_bytes(ModelKind::Recognizer)?;
    Some(Engine::from_bytes(&detector, &recognizer).expect("pinned models load"))
}

/// The first `n` images of the LFW folder in name order (identity, then file).
pub fn first_images(n: usize) -> Option<Vec<PathBuf>> {
    let root = lfw_images()?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        out.extend(files);
        if out.len() >= n {
            out.truncate(n);
            return Some(out);
        }
    }
    Some(out)
}

pub fn load(path: &std::path::Path) -> Frame {
    Frame::decode(&std::fs::read(path).unwrap()).unwrap()
}

/// The deployment profile the kiosk tests run under: made for `watchlist` (its SHA-256), threshold
/// and floor both `threshold`, valid from an hour before `now` to `valid_until`, allowing
/// `kiosk_keys` (hex). Sign it with the issuer's key.
pub fn test_profile(
    watchlist: &[u8],
    threshold: u16,
    custody: Custody,
    query_rate_per_minute: u32,
    (now, valid_until): (i64, i64),
    kiosk_keys: Vec<String>,
) -> Profile {
    Profile {
        purpose: "test".into(),
        legal_basis: "test".into(),
        operator: "test operator".into(),
        location: "test bench".into(),
        valid_from: veilwatch::time::format_utc(now - 3600),
        valid_until: veilwatch::time::format_utc(valid_until),
        watchlist_sha256: veilwatch::hex::hex(&<sha2::Sha256 as sha2::Digest>::digest(watchlist)),
        threshold,
        threshold_floor: threshold,
        custody,
        query_rate_per_minute,
        notice: "test".into(),
        contact: "test".into(),
        requires_overseer: false,
        target_fpir: None,
        false_alert_estimate: None,
        kiosk_keys,
    }
}

/// A watchlist's parameters as a deployment uses them (the default tables and threshold) for
/// `model_id`, valid from an hour before `now` to an hour after.
pub fn watchlist_params(model_id: &str, now: i64) -> WatchlistParams {
    WatchlistParams {
        model_id: model_id.into(),
        tables: veilwatch::blind::DEFAULT_TABLES,
        threshold: veilwatch::blind::DEFAULT_THRESHOLD,
        valid_from: now - 3600,
        valid_until: now + 3600,
    }
}
