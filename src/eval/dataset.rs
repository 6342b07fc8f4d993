//! Datasets in LFW layout: one folder per identity (`Name/Name_0001.jpg`), JPEG or PNG images.
//! Enrolment and evaluation both read people this way.

use std::path::{Path, PathBuf};

/// Why a dataset folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} holds no identity folders with images")]
    Empty(PathBuf),
    #[error("{path}: line `{line}` does not have two columns")]
    Csv { path: PathBuf, line: String },
}

/// One identity and the paths of its images.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The folder name (LFW writes spaces as underscores).
    pub name: String,
    pub images: Vec<PathBuf>,
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let io = |source| DatasetError::Io { path: dir.to_owned(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        paths.push(entry.map_err(io)?.path());
    }
    paths.sort();
    Ok(paths)
}

/// The identity folders of `dir` and up to `per_identity` of their images each (JPEG or PNG),
/// both sorted by name. Folders without images are skipped; a dataset without any is an error.
pub fn list_identities(dir: &Path, per_identity: usize) -> Result<Vec<Identity>, DatasetError> {
    let mut identities = Vec::new();
    for folder in sorted_entries(dir)?.into_iter().filter(|p| p.is_dir()) {
        let images: Vec<PathBuf> = sorted_entries(&folder)?
            .into_iter()
            .filter(|p| {
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
                matches!(ext.as_str(), "jpg" | "jpeg" | "png")
            })
            .take(per_identity)
            .collect();
        if !images.is_empty() {
            let name = folder.file_name().unwrap_or_default().to_string_lossy().into_owned();
            identities.push(Identity { name, images });
        }
    }
    if identities.is_empty() {
        return Err(DatasetError::Empty(dir.to_owned()));
    }
    Ok(identities)
}

/// Rows of a CSV with a header line, first two columns only (`identity,group`, pairs of names).
pub fn read_pairs_csv(path: &Path) -> Result<Vec<(String, String)>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io { path: path.to_owned(), source })?;
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.split(',');
            match (cols.next(), cols.next()) {
                (Some(a), Some(b)) => Ok((a.trim().to_owned(), b.trim().to_owned())),
                _ => Err(DatasetError::Csv { path: path.to_owned(), line: line.to_owned() }),
            }
        })
        .collect()
}
