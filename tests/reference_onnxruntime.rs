//! tract against onnxruntime on real faces. tract can silently mis-handle quantised graphs, so
//! "it loads" proves nothing: the same two models run by onnxruntime (after the same weight
//! folding, done independently with the `onnx` package by tests/reference/onnxruntime_reference.py)
//! must find the same faces (box IoU ≥ 0.9, landmarks within 2 px) and embed the same aligned
//! crop to cosine ≥ 0.999.

mod common;

use std::process::Command;

use serde_json::Value;
use veilwatch::pipeline::{align, nearest_centre, Face};
use veilwatch::template::Embedding;

const IMAGES: usize = 24;

#[test]
fn detections_and_embeddings_match_onnxruntime_on_real_faces() {
    let (Some(engine), Some(images), Some(models)) =
        (common::engine(), common::first_images(IMAGES), common::models_dir())
    else {
        return;
    };
    let scratch = std::env::temp_dir().join(format!("veilwatch-reference-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();

    let mut ours: Vec<Vec<Face>> = Vec::new();
    let mut crops = Vec::new();
    let mut embeddings = Vec::new();
    for (i, path) in images.iter().enumerate() {
        let frame = common::load(path);
        let faces = engine.detect(&frame).unwrap();
        let face = nearest_centre(&faces, frame.width(), frame.height()).unwrap();
        let crop = align::align(&frame, face).unwrap();
        embeddings.push(engine.embed_crop(&crop).unwrap());
        let crop_path = scratch.join(format!("crop{i:02}.png"));
        image::save_buffer(&crop_path, crop.rgb(), 112, 112, image::ColorType::Rgb8).unwrap();
        crops.push(crop_path);
        ours.push(faces);
    }

    let out = scratch.join("reference.json");
    let python = std::env::var("VEILWATCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&python)
        .arg(common::repo_dir().join("tests/reference/onnxruntime_reference.py"))
        .arg("--models")
        .arg(&models)
        .arg("--images")
        .args(&images)
        .arg("--crops")
        .args(&crops)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e} (pip install -r tests/reference/requirements.txt)"));
    assert!(status.success(), "the onnxruntime reference failed; pip install -r tests/reference/requirements.txt");
    let reference: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    std::fs::remove_dir_all(&scratch).ok();

    let (mut compared, mut worst_iou, mut worst_landmark, mut worst_cosine) = (0, 1f32, 0f32, 1f32);
    for (i, (faces, entry)) in ours.iter().zip(reference["detections"].as_array().unwrap()).enumerate() {
        let theirs: Vec<Face> = serde_json::from_value::<Vec<RefFace>>(entry["faces"].clone())
            .unwrap()
            .into_iter()
            .map(|f| Face { bbox: f.bbox, landmarks: f.landmarks, score: f.score })
            .collect();
        // Faces scored near the 0.6 threshold may fall either side of it in either engine.
        for (mine, other) in [(faces, &theirs), (&theirs, faces)] {
            for face in mine.iter().filter(|f| f.score >= 0.65) {
                let best = other.iter().max_by(|a, b| face.iou(a).total_cmp(&face.iou(b)));
                let best = best.unwrap_or_else(|| panic!("{}: a face has no counterpart", images[i].display()));
                assert!(face.iou(best) >= 0.9, "{}: IoU {}", images[i].display(), face.iou(best));
                worst_iou = worst_iou.min(face.iou(best));
                for (p, q) in face.landmarks.iter().zip(&best.landmarks) {
                    let d = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
                    assert!(d <= 2.0, "{}: landmark {d:.2} px off", images[i].display());
                    worst_landmark = worst_landmark.max(d);
                }
                assert!((face.score - best.score).abs() < 0.02, "{}: scores differ", images[i].display());
                compared += 1;
            }
        }
    }
    assert!(compared >= 2 * IMAGES, "only {compared} faces compared");

    for (mine, entry) in embeddings.iter().zip(reference["embeddings"].as_array().unwrap()) {
        let values: Vec<f32> = serde_json::from_value(entry["embedding"].clone()).unwrap();
        let theirs = Embedding::from_values(&values).unwrap();
        let cosine = mine.cosine(&theirs);
        assert!(cosine >= 0.999, "{}: cosine {cosine}", entry["crop"]);
        worst_cosine = worst_cosine.min(cosine);
    }
    eprintln!(
        "tract vs onnxruntime on {IMAGES} photos: {compared} face matches, worst box IoU {worst_iou:.4}, \
         worst landmark {worst_landmark:.3} px, worst embedding cosine {worst_cosine:.6}"
    );
}

#[derive(serde::Deserialize)]
struct RefFace {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    landmarks: [[f32; 2]; 5],
    score: f32,
}
