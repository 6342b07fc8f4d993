//! `veilwatch detect IMAGE… [--json]`: every face the detector finds, best score first.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use veilwatch::pipeline::Face;

use crate::files::{load_engine, load_image};

#[derive(Args)]
pub struct DetectArgs {
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ImageFaces {
    image: String,
    width: u32,
    height: u32,
    faces: Vec<Face>,
}

pub fn run(models: &Path, args: DetectArgs) -> Result<()> {
    let engine = load_engine(models)?;
    let mut results = Vec::new();
    for path in &args.images {
        let frame = load_image(path)?;
        let faces = engine.detect(&frame).with_context(|| path.display().to_string())?;
        results.push(ImageFaces {
            image: path.display().to_string(),
            width: frame.width(),
            height: frame.height(),
            faces,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    for r in &results {
        println!("{} ({}×{}): {} face(s)", r.image, r.width, r.height, r.faces.len());
        for f in &r.faces {
            let [x, y, w, h] = f.bbox;
            println!("  score {:.3}  box x={x:.1} y={y:.1} w={w:.1} h={h:.1}", f.score);
        }
    }
    Ok(())
}
