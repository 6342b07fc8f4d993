//! The face pipeline on real LFW photos: faces are found where they are, the same person scores
//! above different people, and bad input is refused with the right error instead of a panic.

mod common;

use veilwatch::pipeline::{nearest_centre, Error, Frame, ModelKind};

#[test]
fn every_lfw_photo_in_a_sample_has_a_confident_face_near_its_centre() {
    let (Some(engine), Some(images)) = (common::engine(), common::first_images(40)) else { return };
    for path in &images {
        let frame = common::load(path);
        let faces = engine.detect(&frame).unwrap();
        let face = nearest_centre(&faces, frame.width(), frame.height())
            .unwrap_or_else(|| panic!("no face in {}", path.display()));
        let [cx, cy] = face.centre();
        assert!(face.score > 0.8, "{}: score {}", path.display(), face.score);
        assert!((cx - 125.0).abs() < 45.0 && (cy - 125.0).abs() < 45.0, "{}: centre {cx},{cy}", path.display());
        assert!((60.0..180.0).contains(&face.bbox[2]), "{}: width {}", path.display(), face.bbox[2]);
        let [re, le, nose, rm, lm] = face.landmarks;
        assert!(re[0] < le[0] && rm[0] < lm[0], "{}: left/right landmarks swapped", path.display());
        assert!(re[1] < nose[1] && nose[1] < rm[1], "{}: eyes, nose, mouth out of order", path.display());
    }
}

#[test]
fn the_same_person_scores_above_different_people() {
    let (Some(engine), Some(root)) = (common::engine(), common::lfw_images()) else { return };
    let people = ["Colin_Powell", "Tony_Blair", "Laura_Bush", "Hugo_Chavez", "Jennifer_Capriati"];
    let embed = |name: &str, i: usize| {
        let frame = common::load(&root.join(name).join(format!("{name}_{i:04}.jpg")));
        engine.analyse_still(&frame).unwrap().unwrap().embedding
    };
    let embeddings: Vec<_> = people.iter().map(|p| [embed(p, 1), embed(p, 2), embed(p, 3)]).collect();
    let mut lowest_genuine = f32::MAX;
    let mut highest_impostor = f32::MIN;
    for (i, a) in embeddings.iter().enumerate() {
        lowest_genuine = lowest_genuine.min(a[0].cosine(&a[1])).min(a[0].cosine(&a[2])).min(a[1].cosine(&a[2]));
        for b in &embeddings[i + 1..] {
            for x in a {
                for y in b {
                    highest_impostor = highest_impostor.max(x.cosine(y));
                }
            }
        }
    }
    assert!(lowest_genuine > highest_impostor, "genuine ≥ {lowest_genuine}, impostor ≤ {highest_impostor}");
    assert!(lowest_genuine > 0.4, "lowest genuine cosine {lowest_genuine}");
}

#[test]
fn analysis_reports_quality_for_a_good_photo() {
    let (Some(engine), Some(images)) = (common::engine(), common::first_images(1)) else { return };
    let frame = common::load(&images[0]);
    let analysed = engine.analyse(&frame).unwrap();
    let centre = analysed.iter().max_by(|a, b| a.face.score.total_cmp(&b.face.score)).unwrap();
    assert!(centre.quality.passed(), "{:?}", centre.quality);
}

#[test]
fn odd_frame_sizes_are_handled() {
    let Some(engine) = common::engine() else { return };
    for (w, h) in [(1, 1), (31, 33), (333, 17), (17, 1000), (1920, 1080)] {
        let frame = Frame::from_rgba(w, h, &vec![90u8; (w * h * 4) as usize]).unwrap();
        let faces = engine.detect(&frame).unwrap_or_else(|e| panic!("{w}×{h}: {e}"));
        assert!(faces.is_empty(), "{w}×{h}: a flat grey frame has no faces");
    }
}

#[test]
fn a_downscaled_frame_maps_boxes_back_to_frame_coordinates() {
    let (Some(engine), Some(images)) = (common::engine(), common::first_images(1)) else { return };
    let photo = common::load(&images[0]);
    // Nearest-neighbour 4× upscale: 1000×1000, which the detector sees at 640×640.
    let big: Vec<u8> = (0..1000u32 * 1000)
        .flat_map(|i| {
            let (x, y) = ((i % 1000) / 4, (i / 1000) / 4);
            let p = &photo.rgb()[((y * 250 + x) * 3) as usize..];
            [p[0], p[1], p[2], 255]
        })
        .collect();
    let big = Frame::from_rgba(1000, 1000, &big).unwrap();
    let small = nearest_centre(&engine.detect(&photo).unwrap(), 250, 250).copied().unwrap();
    let large = nearest_centre(&engine.detect(&big).unwrap(), 1000, 1000).copied().unwrap();
    let mapped = veilwatch::Face { bbox: large.bbox.map(|v| v / 4.0), ..large };
    assert!(mapped.iou(&small) > 0.8, "{:?} vs {:?}", large.bbox, small.bbox);
}

#[test]
fn corrupt_images_are_refused_with_a_decode_error() {
    let Some(images) = common::first_images(1) else { return };
    let bytes = std::fs::read(&images[0]).unwrap();
    let mut scrambled_header = bytes.clone();
    scrambled_header[2..200].fill(0x55);
    for bad in [&bytes[..120], &scrambled_header[..], &b"not an image at all"[..], &[][..]] {
        let err = Frame::decode(bad).unwrap_err();
        assert!(matches!(err, Error::ImageDecode(_)), "{err}");
    }
}

#[test]
fn wrong_truncated_or_swapped_models_are_refused_by_hash() {
    let (Some(detector), Some(recognizer)) =
        (common::model_bytes(ModelKind::Detector), common::model_bytes(ModelKind::Recognizer))
    else {
        return;
    };
    let mut flipped = detector.clone();
    flipped[1000] ^= 1;
    let cases: [(&[u8], &[u8], ModelKind); 4] = [
        (&detector[..detector.len() - 1], &recognizer, ModelKind::Detector),
        (&flipped, &recognizer, ModelKind::Detector),
        (&detector, &recognizer[..1000], ModelKind::Recognizer),
        (&recognizer, &detector, ModelKind::Detector),
    ];
    for (d, r, which) in cases {
        match veilwatch::Engine::from_bytes(d, r) {
            Err(Error::ModelHashMismatch { model, .. }) => assert_eq!(model, which),
            Err(other) => panic!("wrong error: {other}"),
            Ok(_) => panic!("a bad model was accepted"),
        }
    }
}

#[test]
fn frame_buffers_of_the_wrong_length_are_refused() {
    let err = Frame::from_rgba(640, 480, &vec![0; 640 * 480 * 3]).unwrap_err();
    assert!(matches!(err, Error::FrameBufferLength { .. }));
    assert!(err.to_string().contains("640×480"), "{err}");
}
