//! `veilwatch embed IMAGE…`: the embedding of the face each photo is about (the one nearest its
//! centre), as JSON. A developer tool for test fixtures and cross-checks.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use veilwatch::pipeline::Face;

use crate::files::{load_engine, load_image};

#[derive(Args)]
pub struct EmbedArgs {
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// `face` and `embedding` are `null` when the photo shows no face.
#[derive(Serialize)]
struct ImageEmbedding {
    image: String,
    face: Option<Face>,
    embedding: Option<Vec<f32>>,
}

pub fn run(models: &Path, args: EmbedArgs) -> Result<()> {
    let engine = load_engine(models)?;
    let mut results = Vec::new();
    for path in &args.images {
        let frame = load_image(path)?;
        let analysed = engine.analyse_still(&frame).with_context(|| path.display().to_string())?;
        results.push(ImageEmbedding {
            image: path.display().to_string(),
            face: analysed.as_ref().map(|a| a.face),
            embedding: analysed.map(|a| a.embedding.values().to_vec()),
        });
    }
    println!("{}", serde_json::to_string(&results)?);
    Ok(())
}
