//! `veilwatch detect` and `veilwatch embed`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use veilwatch::{nearest_centre, Face};

use crate::common::{load_engine, load_image, CliResult};

#[derive(Args)]
pub struct DetectArgs {
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct EmbedArgs {
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

#[derive(Serialize)]
struct ImageFaces {
    image: String,
    width: u32,
    height: u32,
    faces: Vec<Face>,
}

pub fn run_detect(models: &Path, args: DetectArgs) -> CliResult {
    let engine = load_engine(models)?;
    let mut results = Vec::new();
    for path in &args.images {
        let frame = load_image(path)?;
        let faces = engine.detect(&frame).map_err(|e| format!("{}: {e}", path.display()))?;
        results.push(ImageFaces {
            image: path.display().to_string(),
            width: frame.width(),
            height: frame.height(),
            faces,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?);
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

#[derive(Serialize)]
struct ImageEmbedding {
    image: String,
    face: Option<Face>,
    embedding: Option<Vec<f32>>,
}

pub fn run_embed(models: &Path, args: EmbedArgs) -> CliResult {
    let engine = load_engine(models)?;
    let mut results = Vec::new();
    for path in &args.images {
        let frame = load_image(path)?;
        let faces = engine.detect(&frame).map_err(|e| format!("{}: {e}", path.display()))?;
        let face = nearest_centre(&faces, frame.width(), frame.height()).copied();
        let embedding = match &face {
            Some(face) => {
                Some(engine.analyse_face(&frame, face).map_err(|e| e.to_string())?.embedding.values().to_vec())
            }
            None => None,
        };
        results.push(ImageEmbedding { image: path.display().to_string(), face, embedding });
    }
    println!("{}", serde_json::to_string(&results).map_err(|e| e.to_string())?);
    Ok(())
}
