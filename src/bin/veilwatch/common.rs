//! Helpers shared by the subcommands: loading the engine, reading images, writing files safely.

use std::path::{Path, PathBuf};

use veilwatch::models::MANIFEST;
use veilwatch::{Engine, Frame, ModelKind};

pub type CliResult<T = ()> = Result<T, String>;

pub fn read(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub fn model_bytes(models: &Path, kind: ModelKind) -> CliResult<Vec<u8>> {
    let spec = MANIFEST.iter().find(|m| m.kind == kind).expect("manifest covers every kind");
    read(&models.join(spec.file)).map_err(|e| format!("{e} (run models/fetch to download the models)"))
}

pub fn load_engine(models: &Path) -> CliResult<Engine> {
    let detector = model_bytes(models, ModelKind::Detector)?;
    let recognizer = model_bytes(models, ModelKind::Recognizer)?;
    Engine::from_bytes(&detector, &recognizer).map_err(|e| e.to_string())
}

pub fn load_image(path: &Path) -> CliResult<Frame> {
    Frame::decode(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes through a temporary file in the same folder and renames it, so a reader never sees a
/// half-written file and an interrupted run leaves the old one intact.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> CliResult {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let tmp: PathBuf = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// Identity folders of a dataset in LFW layout (`Name/Name_0001.jpg`) and up to `per_identity` of
/// their images each (JPEG or PNG), both sorted by name. Folders without images are skipped.
pub fn list_identities(dir: &Path, per_identity: usize) -> CliResult<Vec<(String, Vec<PathBuf>)>> {
    let entries = |d: &Path| -> CliResult<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| format!("cannot list {}: {e}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    let mut identities = Vec::new();
    for folder in entries(dir)?.into_iter().filter(|p| p.is_dir()) {
        let images: Vec<PathBuf> = entries(&folder)?
            .into_iter()
            .filter(|p| {
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
                matches!(ext.as_str(), "jpg" | "jpeg" | "png")
            })
            .take(per_identity)
            .collect();
        if !images.is_empty() {
            let name = folder.file_name().unwrap_or_default().to_string_lossy().into_owned();
            identities.push((name, images));
        }
    }
    if identities.is_empty() {
        return Err(format!("{} holds no identity folders with images", dir.display()));
    }
    Ok(identities)
}
