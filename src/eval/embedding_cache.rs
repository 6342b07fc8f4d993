//! A file of still-photo embeddings already computed, so that the evaluation, the calibration and
//! the false-alert validation test embed each development photo once per pipeline, not once per
//! run (embedding ~15 000 photos costs minutes on a small machine).
//!
//! The cache is a development aid for datasets on the developer's disk and belongs in a cache
//! folder outside the clone (the tests use `$HOME/.cache/veilwatch/`), never in the repository.
//! Entries are found by the SHA-256 of the photo's bytes, not by its path or time stamp, so that a
//! copy of the data anywhere (another checkout, CI's `VEILWATCH_DATA`) hits the same entries, and
//! an edited photo misses. An entry is reused only when everything its result depends on is
//! unchanged: the cache file's key names the embedding model (whose weights are pinned by
//! SHA-256), [`PIPELINE_VERSION`], the quality gates and the flip augmentation. A cache whose key
//! differs, or that cannot be read, is ignored and rewritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pipeline::Engine;
use crate::template::Embedding;

/// Bump when detection, alignment, the face choice or embedding change in a way the model id does not show.
pub const PIPELINE_VERSION: u32 = 1;

/// The face a still photo is about (nearest its centre), and whether it passes the kiosk's quality gates.
#[derive(Debug, Clone)]
pub struct StillFace {
    pub embedding: Embedding,
    pub passed_gates: bool,
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    key: String,
    entries: Vec<CacheEntry>,
}

#[derive(Clone, Serialize, Deserialize)]
struct CacheEntry {
    /// SHA-256 of the photo's bytes, in hex.
    photo_sha256: String,
    /// `None`: no face was found in the photo.
    face: Option<CachedFace>,
}

#[derive(Clone, Serialize, Deserialize)]
struct CachedFace {
    embedding: Vec<f32>,
    passed_gates: bool,
}

/// The embeddings of still photos, read from and written back to one cache file (or to none).
pub struct EmbeddingCache {
    path: Option<PathBuf>,
    key: String,
    entries: Mutex<HashMap<String, CacheEntry>>,
    added: Mutex<usize>,
}

/// The name a photo's entry goes by: the SHA-256 of its bytes, in hex.
fn content_key(photo_bytes: &[u8]) -> String {
    crate::hex::hex(&Sha256::digest(photo_bytes))
}

/// What a still photo's [`StillFace`] depends on besides the photo: the embedding model, the
/// [`PIPELINE_VERSION`], the quality gates and the flip augmentation. Two engines with the same key
/// give the same face for the same photo (the cache and the stranger cohort check it).
pub fn pipeline_key(engine: &Engine) -> String {
    format!(
        "model={} pipeline={PIPELINE_VERSION} gates={:?} flip={}",
        engine.model_id(),
        engine.gates,
        engine.flip_augmentation
    )
}

impl EmbeddingCache {
    /// The cache at `path` for `engine`'s pipeline (empty if absent, stale or unreadable); `None`
    /// keeps nothing.
    pub fn open(path: Option<&Path>, engine: &Engine) -> EmbeddingCache {
        let key = pipeline_key(engine);
        let entries = path
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|file| file.key == key)
            .map(|file| file.entries.into_iter().map(|e| (e.photo_sha256.clone(), e)).collect())
            .unwrap_or_default();
        EmbeddingCache { path: path.map(Path::to_owned), key, entries: Mutex::new(entries), added: Mutex::new(0) }
    }

    /// The cached result for the photo whose file holds `photo_bytes`.
    pub fn get(&self, photo_bytes: &[u8]) -> Option<Option<StillFace>> {
        let entries = self.entries.lock().expect("cache lock");
        let entry = entries.get(&content_key(photo_bytes))?;
        Some(match &entry.face {
            None => None,
            Some(face) => {
                Some(StillFace { embedding: Embedding::from_values(&face.embedding)?, passed_gates: face.passed_gates })
            }
        })
    }

    /// Remembers the result for the photo whose file holds `photo_bytes`.
    pub fn put(&self, photo_bytes: &[u8], face: Option<&StillFace>) {
        let photo_sha256 = content_key(photo_bytes);
        let face = face.map(|f| CachedFace { embedding: f.embedding.values().to_vec(), passed_gates: f.passed_gates });
        self.entries.lock().expect("cache lock").insert(photo_sha256.clone(), CacheEntry { photo_sha256, face });
        *self.added.lock().expect("cache lock") += 1;
    }

    /// Writes the cache back if anything was added (atomically: a temporary file, then a rename).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        if *self.added.lock().expect("cache lock") == 0 {
            return Ok(());
        }
        let mut entries: Vec<CacheEntry> = self.entries.lock().expect("cache lock").values().cloned().collect();
        entries.sort_by(|a, b| a.photo_sha256.cmp(&b.photo_sha256));
        let json = serde_json::to_vec(&CacheFile { key: self.key.clone(), entries }).map_err(std::io::Error::other)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, json)?;
        std::fs::rename(&temporary, path)
    }
}
