//! The kiosk's reduced detector input (issue 19, item 3), on real LFW faces composed into 640×480
//! frames: faces at the quality gate's minimum size are still found, boxes and landmarks come back
//! in frame coordinates where the full input puts them, the full input runs when the schedule says
//! it must, and each input size's plan is built once.

mod common;

use veilwatch::eval::detection_scale::{best_match, compose, landmark_error, Composed, Photo};
use veilwatch::kiosk::{DetectionPolicy, DetectionSchedule, DetectionStage, KioskSession, Pass};
use veilwatch::pipeline::detect::Detector;
use veilwatch::pipeline::{Engine, Frame, ModelKind};

const W: u32 = 640;
const H: u32 = 480;

/// One photo of each of `n` LFW identities, spread over the folder (not the ones the CLI measures
/// first: every 7th from the 3rd), each with the face the detector finds on it.
fn photos(engine: &Engine, n: usize) -> Option<Vec<Photo>> {
    let root = common::lfw_images()?;
    let identities = veilwatch::eval::dataset::list_identities(&root, 1).unwrap();
    let photos = identities
        .iter()
        .skip(3)
        .step_by(7)
        .filter_map(|i| Photo::new(engine, common::load(&i.images[0])).unwrap())
        .take(n)
        .collect();
    Some(photos)
}

fn gate_accepts(engine: &Engine, frame: &Frame, face: &veilwatch::pipeline::Face) -> bool {
    engine.align_and_assess(frame, face).is_ok_and(|(_, q)| q.passed())
}

#[test]
fn faces_at_the_gates_minimum_size_are_found_at_the_kiosks_reduced_input() {
    let Some(engine) = common::engine() else { return };
    let Some(photos) = photos(&engine, 40) else { return };
    let policy = DetectionPolicy::default();
    let min_px = engine.gates.min_face_px;
    let (mut gate_faces, mut found) = (0, 0);
    for Composed { frame, truth } in compose(&photos, min_px, W, H, 10, 7) {
        let full = engine.detect_at(&frame, policy.full_side).unwrap();
        let reduced = engine.detect_at(&frame, policy.reduced_side).unwrap();
        for bbox in &truth {
            let Some(reference) = best_match(&full, bbox, 0.5).filter(|f| gate_accepts(&engine, &frame, f)) else {
                continue;
            };
            gate_faces += 1;
            found += usize::from(best_match(&reduced, &reference.bbox, 0.5).is_some());
        }
    }
    // `veilwatch bench detection` found all 159 such faces of 300 photos; one miss is allowed here.
    assert!(gate_faces >= 15, "too few faces of {min_px} px passed the gate at the full input: {gate_faces}");
    assert!(
        found + 1 >= gate_faces,
        "the reduced input ({}) found {found} of {gate_faces} gate-accepted faces of {min_px} px",
        policy.reduced_side
    );
}

#[test]
fn reduced_detections_come_back_in_frame_coordinates_where_the_full_input_puts_them() {
    let Some(engine) = common::engine() else { return };
    let Some(photos) = photos(&engine, 12) else { return };
    let policy = DetectionPolicy::default();
    let (mut errors, mut shifts) = (Vec::new(), Vec::new());
    for face_px in [56.0, 96.0, 160.0] {
        for Composed { frame, truth } in compose(&photos, face_px, W, H, 10, 11) {
            let full = engine.detect_at(&frame, policy.full_side).unwrap();
            let reduced = engine.detect_at(&frame, policy.reduced_side).unwrap();
            for bbox in &truth {
                let a = best_match(&full, bbox, 0.5).unwrap_or_else(|| panic!("{face_px} px face not found at full"));
                let b =
                    best_match(&reduced, bbox, 0.5).unwrap_or_else(|| panic!("{face_px} px face not found reduced"));
                // A mapping that forgot the scale would overlap by less than half; YuNet's own
                // jitter between two input sizes (a box's height varies by up to a tenth) keeps
                // well above 0.7.
                assert!(a.iou(b) >= 0.7, "{face_px} px: boxes {:?} vs {:?}", a.bbox, b.bbox);
                errors.push(landmark_error(a, b) / face_px);
                let (ca, cb) = (a.centre(), b.centre());
                shifts.push([cb[0] - ca[0], cb[1] - ca[1]]);
            }
        }
    }
    assert!(errors.len() >= 30, "{} faces compared", errors.len());
    errors.sort_by(f32::total_cmp);
    let median = errors[errors.len() / 2];
    // Measured 5.7 % (the largest of the five landmarks' distances): YuNet's landmarks jitter by a
    // few pixels between any two input sizes. A scale left out of the mapping would be tens of %.
    assert!(median < 0.08, "median landmark error {:.1} % of the face size", median * 100.0);
    // Jitter averages out; an offset in the mapping (half a pixel of the input, a padding on the
    // wrong side) would not.
    let n = shifts.len() as f32;
    let mean = [shifts.iter().map(|s| s[0]).sum::<f32>() / n, shifts.iter().map(|s| s[1]).sum::<f32>() / n];
    assert!(mean[0].abs() < 1.0 && mean[1].abs() < 1.0, "box centres shifted by {mean:?} px on average");
}

/// A frame with one LFW face of `face_px`, and the same scene empty.
fn scene(photos: &[Photo], face_px: f32) -> (Frame, Frame) {
    let Composed { frame, .. } = compose(&photos[..1], face_px, W, H, 1, 3).remove(0);
    (frame, Frame::from_rgba(W, H, &vec![128; (W * H * 4) as usize]).unwrap())
}

#[test]
fn the_full_input_runs_first_periodically_and_when_a_tracked_face_is_lost() {
    let Some(engine) = common::engine() else { return };
    let Some(photos) = photos(&engine, 1) else { return };
    let (face, empty) = scene(&photos, 80.0);
    let mut schedule = DetectionSchedule::new(DetectionPolicy { full_every: 4, ..DetectionPolicy::default() });
    let (faces, pass) = schedule.detect(engine.detector(), &face, &[]).unwrap();
    assert_eq!((faces.len(), pass), (1, Pass::Full), "the first frame runs the full input");
    let tracked = faces;
    let passes: Vec<Pass> = (0..5).map(|_| schedule.detect(engine.detector(), &face, &tracked).unwrap().1).collect();
    assert_eq!(passes, [Pass::Reduced, Pass::Reduced, Pass::Reduced, Pass::Full, Pass::Reduced], "every 4th frame");

    // The face is gone while it is tracked: the reduced pass misses it and the full input runs too.
    let (faces, pass) = schedule.detect(engine.detector(), &empty, &tracked).unwrap();
    assert_eq!((faces.len(), pass), (0, Pass::FullAfterLoss));
    // Nothing tracked any more: an empty scene stays on the reduced input.
    assert_eq!(schedule.detect(engine.detector(), &empty, &[]).unwrap().1, Pass::Reduced);

    // A frame no larger than the reduced input is detected once, at its own size.
    let small = Frame::from_rgba(320, 240, &vec![128; 320 * 240 * 4]).unwrap();
    assert_eq!(schedule.detect(engine.detector(), &small, &tracked).unwrap().1, Pass::Full);
}

#[test]
fn a_kiosk_builds_each_detector_input_once_and_runs_the_full_one_only_when_needed() {
    let Some(engine) = common::engine() else { return };
    let Some(photos) = photos(&engine, 1) else { return };
    let (face, empty) = scene(&photos, 80.0);
    let policy = DetectionPolicy::default();
    // The full input's plan is built when the models load (and the photos' own size's above).
    let plans = engine.detector().plans_built();
    let mut session = KioskSession::new(engine);
    // The face leaves between two periodic full passes.
    let frames = 2 * policy.full_every as u64 + 5;
    for i in 0..frames {
        let result = session.process_frame(&face, 1_800_000_000_000.0 + 40.0 * i as f64).unwrap();
        assert_eq!(result.faces.len(), 1, "frame {i}");
        assert_eq!(result.counters.tracks_ended, 0, "frame {i}: the track went on");
    }
    let counters = session.counters();
    assert_eq!(counters.full_detections, 3, "the first frame and every {}th: {counters:?}", policy.full_every);
    // The face leaves: one full pass to look for it, then the reduced input again.
    for i in 0..3 {
        session.process_frame(&empty, 1_800_000_000_000.0 + 40.0 * (frames + i) as f64).unwrap();
    }
    assert_eq!(session.counters().full_detections, 4);
    assert_eq!(session.engine().detector().plans_built(), plans + 1, "the reduced input's plan, built once");
}

#[test]
fn the_kiosks_two_workers_see_what_one_would() {
    // The kiosk detects in one Worker (`DetectionStage`) and embeds, tracks and matches in the other
    // (`process_detected_frame`); the split must not change a single result: faces, tracks, passes
    // and counters, frame by frame, as the face comes, stays past two periodic full passes, leaves
    // and comes back.
    let Some(engine) = common::engine() else { return };
    let Some(photos) = photos(&engine, 1) else { return };
    let (face, empty) = scene(&photos, 80.0);
    let detector = Detector::from_bytes(&common::model_bytes(ModelKind::Detector).unwrap()).unwrap();
    let mut stage = DetectionStage::new(detector, DetectionPolicy::default());
    let mut one = KioskSession::new(engine);
    let mut two = KioskSession::new(common::engine().unwrap());
    let clip =
        std::iter::repeat_n(&face, 23).chain(std::iter::repeat_n(&empty, 3)).chain(std::iter::repeat_n(&face, 4));
    for (i, frame) in clip.enumerate() {
        let t = 1_800_000_000_000.0 + 40.0 * i as f64;
        let whole = one.process_frame(frame, t).unwrap();
        let detection = stage.detect(frame).unwrap();
        let split = two.process_detected_frame(frame, detection, t).unwrap();
        assert_eq!(serde_json::to_value(&split).unwrap(), serde_json::to_value(&whole).unwrap(), "frame {i}");
    }
    let counters = two.counters();
    assert!(counters.full_detections >= 4 && counters.faces_embedded > 0, "{counters:?}");
}
