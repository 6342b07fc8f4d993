//! G2, observed rather than promised: while real photos go through the whole pipeline (detection,
//! alignment, quality, embedding), a global allocator inspects every heap block as it is freed and
//! looks for the face's data in it — a run of the frame's raw pixels, of the detector's input
//! values, of the aligned crop, of the embedding. A freed block that still holds any of them would
//! mean a non-match's data was left in memory for anyone to find; the test requires none.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use veilwatch::pipeline::{align, Frame};

const PATTERN: usize = 32;
const KINDS: [&str; 5] =
    ["raw frame pixels", "detector input values", "aligned crop pixels", "recogniser input values", "embedding values"];

struct Inspecting;

static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];
static mut PATTERNS: [[u8; PATTERN]; 5] = [[0; PATTERN]; 5];

fn contains(haystack: &[u8], needle: &[u8; PATTERN]) -> bool {
    haystack.windows(PATTERN).any(|w| w[0] == needle[0] && w == needle)
}

unsafe impl GlobalAlloc for Inspecting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::SeqCst) && layout.size() >= PATTERN {
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            // Reading the patterns is safe: they are written once, before arming.
            let patterns = unsafe { &*std::ptr::addr_of!(PATTERNS) };
            for (kind, pattern) in patterns.iter().enumerate() {
                if contains(block, pattern) {
                    FOUND[kind].fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Inspecting = Inspecting;

fn f32_bytes(values: &[f32]) -> [u8; PATTERN] {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    bytes[..PATTERN].try_into().unwrap()
}

#[test]
fn no_freed_memory_holds_a_faces_pixels_crop_or_embedding() {
    let (Some(engine), Some(images)) = (common::engine(), common::first_images(6)) else { return };
    for path in &images {
        let frame = common::load(path);
        let analysed = engine.analyse_still(&frame).unwrap().unwrap();
        let (face, embedding) = (analysed.face, analysed.embedding);
        let crop = align::align(&frame, &face).unwrap();
        // A textured run from the middle of the face: row through the eyes, 11 pixels.
        let (y, x) = (face.landmarks[0][1] as usize, face.bbox[0] as usize + 10);
        let row = &frame.rgb()[(y * 250 + x) * 3..];
        let blue: Vec<f32> = (0..8).map(|k| row[k * 3 + 2] as f32).collect();
        let crop_row = &crop.rgb()[(56 * 112 + 30) * 3..];
        let crop_red: Vec<f32> = (0..8).map(|k| crop_row[k * 3] as f32).collect();
        unsafe {
            PATTERNS = [
                row[..PATTERN].try_into().unwrap(),
                f32_bytes(&blue),
                crop_row[..PATTERN].try_into().unwrap(),
                f32_bytes(&crop_red),
                f32_bytes(&embedding.values()[..8]),
            ];
        }
        let rgba: Vec<u8> = frame.rgb().chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
        drop((frame, crop, embedding));

        ARMED.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            let frame = Frame::from_rgba(250, 250, &rgba).unwrap();
            let analysed = engine.analyse(&frame).unwrap();
            assert!(!analysed.is_empty());
        }
        ARMED.store(false, Ordering::SeqCst);
        let found: Vec<String> = FOUND
            .iter()
            .zip(KINDS)
            .filter(|(n, _)| n.load(Ordering::SeqCst) > 0)
            .map(|(n, kind)| format!("{kind} in {} freed block(s)", n.load(Ordering::SeqCst)))
            .collect();
        assert!(found.is_empty(), "{}: freed without wiping: {}", path.display(), found.join(", "));
    }
}
