//! Files the subcommands read and write: whole files (every error names the path), atomic writes,
//! photos decoded into frames, and the engine loaded from the models folder.

use std::path::Path;

use anyhow::{Context, Result};
use veilwatch::pipeline::{models, Engine, Frame, ModelKind};

pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?).with_context(|| format!("{} is not UTF-8 text", path.display()))
}

pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes through a temporary file in the same folder and renames it, so a reader never sees a
/// half-written file and an interrupted run leaves the old one intact.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}

/// A photo (JPEG or PNG) as a frame.
pub fn load_image(path: &Path) -> Result<Frame> {
    Frame::decode(&read(path)?).with_context(|| path.display().to_string())
}

/// The engine, from the two pinned model files in `models`.
pub fn load_engine(models: &Path) -> Result<Engine> {
    let model = |kind: ModelKind| {
        let path = models.join(models::spec(kind).file);
        std::fs::read(&path)
            .with_context(|| format!("cannot read {} (run models/fetch to download the models)", path.display()))
    };
    Ok(Engine::from_bytes(&model(ModelKind::Detector)?, &model(ModelKind::Recognizer)?)?)
}
