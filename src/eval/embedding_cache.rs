//! A file of still-photo embeddings already computed, so that the evaluation, the calibration and
//! the false-alert validation test embed each development photo once per pipeline, not once per
//! run (embedding ~15 000 photos costs minutes on a small machine).
//!
//! The cache is a development aid for datasets on the developer's disk and belongs in a build
//! folder (e.g. under `$CARGO_TARGET_DIR`), never in the repository. An entry is reused only when
//! everything its result depends on is unchanged: the cache file's key names the embedding model
//! (whose weights are pinned by SHA-256), [`PIPELINE_VERSION`], the quality gates and the flip
//! augmentation; each entry names the photo's path, size and modification time. A cache whose key
//! differs, or that cannot be read, is ignored and rewritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

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
    path: String,
    bytes: u64,
    modified_ns: u128,
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

fn stamp(photo: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(photo).ok()?;
    let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    Some((meta.len(), modified))
}

impl EmbeddingCache {
    /// The cache at `path` for `engine`'s pipeline (empty if absent, stale or unreadable); `None`
    /// keeps nothing.
    pub fn open(path: Option<&Path>, engine: &Engine) -> EmbeddingCache {
        let key = format!(
            "model={} pipeline={PIPELINE_VERSION} gates={:?} flip={}",
            engine.model_id(),
            engine.gates,
            engine.flip_augmentation
        );
        let entries = path
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|file| file.key == key)
            .map(|file| file.entries.into_iter().map(|e| (e.path.clone(), e)).collect())
            .unwrap_or_default();
        EmbeddingCache { path: path.map(Path::to_owned), key, entries: Mutex::new(entries), added: Mutex::new(0) }
    }

    /// The cached result for `photo`, if its file is unchanged since it was cached.
    pub fn get(&self, photo: &Path) -> Option<Option<StillFace>> {
        let (bytes, modified_ns) = stamp(photo)?;
        let entries = self.entries.lock().expect("cache lock");
        let entry = entries.get(photo.to_string_lossy().as_ref())?;
        if entry.bytes != bytes || entry.modified_ns != modified_ns {
            return None;
        }
        Some(match &entry.face {
            None => None,
            Some(face) => {
                Some(StillFace { embedding: Embedding::from_values(&face.embedding)?, passed_gates: face.passed_gates })
            }
        })
    }

    /// Remembers `photo`'s result.
    pub fn put(&self, photo: &Path, face: Option<&StillFace>) {
        let Some((bytes, modified_ns)) = stamp(photo) else { return };
        let path = photo.to_string_lossy().into_owned();
        let face = face.map(|f| CachedFace { embedding: f.embedding.values().to_vec(), passed_gates: f.passed_gates });
        self.entries.lock().expect("cache lock").insert(path.clone(), CacheEntry { path, bytes, modified_ns, face });
        *self.added.lock().expect("cache lock") += 1;
    }

    /// Writes the cache back if anything was added (atomically: a temporary file, then a rename).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        if *self.added.lock().expect("cache lock") == 0 {
            return Ok(());
        }
        let mut entries: Vec<CacheEntry> = self.entries.lock().expect("cache lock").values().cloned().collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let json = serde_json::to_vec(&CacheFile { key: self.key.clone(), entries }).map_err(std::io::Error::other)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, json)?;
        std::fs::rename(&temporary, path)
    }
}
