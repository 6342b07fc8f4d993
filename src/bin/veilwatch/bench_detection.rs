//! `veilwatch bench detection`: how small the detector's input can be, on LFW development photos
//! composed into camera frames ([`veilwatch::eval::detection_scale`]). Prints one line per input
//! size (the README's speed section quotes them), the misses per face size, and the smallest input
//! within `--max-miss-rate`; `--out FILE` merges the figures into FILE under "detection_scale".

use std::path::PathBuf;

use anyhow::{ensure, Result};
use clap::Args;
use veilwatch::eval::dataset::list_identities;
use veilwatch::eval::detection_scale::{measure, Photo, ScaleOptions};

use crate::files::{load_engine, load_image, write_atomically};

#[derive(Args)]
pub struct BenchDetectionArgs {
    /// Data folder (default: $VEILWATCH_DATA or ../shared/data); the photos are its lfw/images.
    #[arg(long)]
    data: Option<PathBuf>,
    /// LFW identities to take a photo of (their first), spread evenly over the folder.
    #[arg(long, default_value_t = 300)]
    photos: usize,
    /// Detector input sizes (longer side); the first is the reference.
    #[arg(long, default_value = "640,512,480,416,384,320,256", value_delimiter = ',')]
    inputs: Vec<u32>,
    /// Face sizes (smaller side of the box, frame pixels); default from the gate's minimum (40) up.
    #[arg(long, default_value = "40,48,56,64,80,96,128,160,200", value_delimiter = ',')]
    face_sizes: Vec<f32>,
    /// Frame size.
    #[arg(long, default_value_t = 640)]
    width: u32,
    #[arg(long, default_value_t = 480)]
    height: u32,
    /// Photos to a frame at most.
    #[arg(long, default_value_t = 10)]
    per_frame: usize,
    /// Every this many gate-accepted faces, compare the embeddings aligned from each input's
    /// landmarks and from the reference's (0: never).
    #[arg(long, default_value_t = 8)]
    embed_every: usize,
    /// The miss rate (of gate-accepted faces, relative to the reference) the chosen input may have.
    #[arg(long, default_value_t = 0.01)]
    max_miss_rate: f64,
    /// Report file to merge the figures into (e.g. bench.json).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(models: &std::path::Path, args: BenchDetectionArgs) -> Result<()> {
    ensure!(args.inputs.len() >= 2, "--inputs needs the reference size and at least one smaller one");
    let images = crate::bench::data_dir(args.data).join("lfw/images");
    ensure!(images.is_dir(), "{} is missing; set VEILWATCH_DATA to the shared data folder", images.display());
    let engine = load_engine(models)?;
    let identities = list_identities(&images, 1)?;
    let step = (identities.len() / args.photos.max(1)).max(1);
    let mut photos = Vec::with_capacity(args.photos);
    for identity in identities.iter().step_by(step).take(args.photos) {
        if let Some(photo) = Photo::new(&engine, load_image(&identity.images[0])?)? {
            photos.push(photo);
        }
    }
    let options = ScaleOptions {
        width: args.width,
        height: args.height,
        inputs: args.inputs,
        face_sizes: args.face_sizes,
        per_frame: args.per_frame,
        min_iou: 0.5,
        embed_every: args.embed_every,
        seed: 19,
    };
    eprintln!("{} photos with a face; composing them at {:?} px faces", photos.len(), options.face_sizes);
    let report = measure(&engine, &photos, &options, |px| eprintln!("  {px} px faces done"))?;

    let reference = report.inputs[0].max_side;
    println!(
        "detection input vs {reference} on {}×{} frames: {} LFW photos × {} face sizes ({}–{} px, gate minimum {} px), {} frames",
        report.width,
        report.height,
        report.photos,
        report.face_sizes.len(),
        report.face_sizes.first().unwrap_or(&0.0),
        report.face_sizes.last().unwrap_or(&0.0),
        report.min_face_px,
        report.frames
    );
    println!(
        "input | gate faces found | miss vs {reference} | gate: lost / gained (net) | recall (composed) | landmarks p50/p95 | embedding cosine p50/p5 | ms/frame | time"
    );
    for r in &report.inputs {
        let c = &r.counts;
        println!(
            "{:>3} ({}×{}) | {:>5}/{:<5} | {:>5.2} % | {:>3} / {:>3} ({:+.2} %) | {:>6.2} % | {:.1}/{:.1} px | {:.3}/{:.3} (n = {}) | {:>6.2} | {:.2}×",
            r.max_side,
            r.input_width,
            r.input_height,
            c.found,
            c.gate_faces,
            r.miss_rate * 100.0,
            c.found - c.accepted,
            c.gained,
            -r.gate_net_loss * 100.0,
            c.recall_composed() * 100.0,
            r.landmark_error_p50_px,
            r.landmark_error_p95_px,
            r.embedding_cosine_p50,
            r.embedding_cosine_p5,
            r.embedded,
            r.ms_per_frame,
            r.time_ratio
        );
    }
    println!("misses (of gate faces) per face size, not found + found but refused by the gate:");
    print!("input   ");
    report.face_sizes.iter().for_each(|px| print!(" | {px:>6}"));
    println!();
    for r in &report.inputs[1..] {
        print!("{:>3}     ", r.max_side);
        r.by_face_size
            .iter()
            .for_each(|c| print!(" | {}+{}/{}", c.gate_faces - c.found, c.found - c.accepted, c.gate_faces));
        println!();
    }
    match report.smallest_within(args.max_miss_rate) {
        Some(r) => println!(
            "smallest input with a miss rate ≤ {:.1} % (and none above it at a larger size): {} ({}×{}), {:.2}× the time",
            args.max_miss_rate * 100.0,
            r.max_side,
            r.input_width,
            r.input_height,
            r.time_ratio
        ),
        None => println!("no smaller input is within a {:.1} % miss rate", args.max_miss_rate * 100.0),
    }

    if let Some(out) = &args.out {
        let mut file = crate::bench::read_report(out);
        file["detection_scale"] = serde_json::to_value(&report)?;
        write_atomically(out, serde_json::to_string_pretty(&file)?.as_bytes())?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
