//! Frames: validation of untrusted pixel buffers, the reusable buffer a page writes camera frames
//! into, and conversion to the detector's input tensor.
//!
//! Guarantees: a [`Frame`] always has a non-zero size within [`MAX_SIDE`] and exactly
//! `width × height × 3` RGB bytes; its pixels are zeroised when it is dropped (G2: a passer-by's
//! frame does not outlive its processing). A [`FrameBuffer`] is allocated once per frame size and
//! wiped every time a frame is taken out of it, whether or not the frame was usable.

use tract_onnx::prelude::*;
use zeroize::Zeroizing;

use super::error::{Error, Result};

/// Largest accepted width or height; bounds memory before anything is allocated.
pub const MAX_SIDE: u32 = 8192;

/// The detector's input size must be a multiple of this (YuNet's coarsest stride).
pub const DETECTOR_ALIGN: u32 = 32;

/// An RGB frame owned by the pipeline.
pub struct Frame {
    width: u32,
    height: u32,
    rgb: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({}×{}, pixels withheld)", self.width, self.height)
    }
}

fn check_size(width: u32, height: u32) -> Result<()> {
    let reason = if width == 0 || height == 0 {
        "it has no pixels"
    } else if width > MAX_SIDE || height > MAX_SIDE {
        "a side is larger than 8192 pixels"
    } else {
        return Ok(());
    };
    Err(Error::FrameSize { width, height, reason })
}

impl Frame {
    /// Takes an RGBA buffer as a canvas `ImageData` or camera frame provides it; alpha is ignored.
    pub fn from_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<Frame> {
        check_size(width, height)?;
        let expected = width as usize * height as usize * 4;
        if rgba.len() != expected {
            return Err(Error::FrameBufferLength { width, height, expected, actual: rgba.len() });
        }
        let mut rgb = Zeroizing::new(Vec::with_capacity(expected / 4 * 3));
        for px in rgba.chunks_exact(4) {
            rgb.extend_from_slice(&px[..3]);
        }
        Ok(Frame { width, height, rgb })
    }

    /// Takes a tightly packed RGB buffer.
    pub fn from_rgb(width: u32, height: u32, rgb: Vec<u8>) -> Result<Frame> {
        let rgb = Zeroizing::new(rgb);
        check_size(width, height)?;
        let expected = width as usize * height as usize * 3;
        if rgb.len() != expected {
            return Err(Error::FrameBufferLength {
                width,
                height,
                expected: expected / 3 * 4,
                actual: rgb.len() / 3 * 4,
            });
        }
        Ok(Frame { width, height, rgb })
    }

    /// Decodes a JPEG or PNG file's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Frame> {
        let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        reader.limits(limits);
        let image = reader
            .with_guessed_format()
            .map_err(|e| Error::ImageDecode(e.to_string()))?
            .decode()
            .map_err(|e| Error::ImageDecode(e.to_string()))?
            .into_rgb8();
        let (width, height) = image.dimensions();
        Frame::from_rgb(width, height, image.into_raw())
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// Bilinear sample of channel `c` at continuous pixel coordinates (pixel centres at integers);
    /// outside the frame reads as black, like OpenCV's constant border.
    pub fn sample(&self, x: f32, y: f32, c: usize) -> f32 {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let at = |xi: i64, yi: i64| -> f32 {
            if xi < 0 || yi < 0 || xi >= self.width as i64 || yi >= self.height as i64 {
                0.0
            } else {
                self.rgb[(yi as usize * self.width as usize + xi as usize) * 3 + c] as f32
            }
        };
        let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
        let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// The RGBA buffer a caller outside Rust (a page, through the wasm memory) writes a camera frame
/// into, so that the frame is never copied into a fresh allocation that would be freed unwiped.
/// One allocation per frame size, reused frame after frame; its old allocation is wiped when the
/// size changes, and its bytes are wiped each time [`FrameBuffer::take_frame`] runs.
#[derive(Default)]
pub struct FrameBuffer {
    width: u32,
    height: u32,
    rgba: Zeroizing<Vec<u8>>,
}

impl FrameBuffer {
    /// The zeroed buffer for a `width`×`height` RGBA frame, to be filled before
    /// [`FrameBuffer::take_frame`]. The same allocation while the size stays the same.
    pub fn for_size(&mut self, width: u32, height: u32) -> Result<&mut [u8]> {
        check_size(width, height)?;
        if (width, height) != (self.width, self.height) {
            // The old allocation is zeroised as it drops.
            self.rgba = Zeroizing::new(vec![0; width as usize * height as usize * 4]);
            (self.width, self.height) = (width, height);
        }
        Ok(self.rgba.as_mut_slice())
    }

    /// The frame the buffer holds, as a [`Frame`] of `width`×`height` (the size it was prepared
    /// for); the buffer is wiped before this returns, also when it fails.
    pub fn take_frame(&mut self, width: u32, height: u32) -> Result<Frame> {
        let frame = if self.rgba.is_empty() || (width, height) != (self.width, self.height) {
            check_size(width, height).and(Err(Error::FrameBufferNotPrepared {
                width,
                height,
                prepared: (self.width, self.height),
            }))
        } else {
            Frame::from_rgba(width, height, &self.rgba)
        };
        zeroize::Zeroize::zeroize(self.rgba.as_mut_slice());
        frame
    }

    /// The buffer's bytes (what a test checks was wiped).
    pub fn bytes(&self) -> &[u8] {
        &self.rgba
    }
}

/// One output column's (or row's) bilinear taps: the two source pixels (`None` outside the frame,
/// which reads as black) and the second one's weight.
struct Tap {
    first: Option<usize>,
    second: Option<usize>,
    weight: f32,
}

impl Tap {
    /// The taps of `outputs` pixels scaled by `scale` from a side of `inputs` pixels.
    fn along(outputs: usize, inputs: u32, scale: f32) -> Vec<Tap> {
        let inside = |i: usize| (i < inputs as usize).then_some(i);
        (0..outputs)
            .map(|o| {
                let s = ((o as f32 + 0.5) / scale - 0.5).max(0.0);
                let floor = s.floor();
                let i = floor as usize;
                Tap { first: inside(i), second: inside(i + 1), weight: s - floor }
            })
            .collect()
    }
}

/// How a frame was fitted into the detector input: frame coordinates = input coordinates / scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale: f32,
    pub input_width: u32,
    pub input_height: u32,
}

impl Letterbox {
    /// Scales the frame down (never up) so its longer side is at most `max_side`, then pads right
    /// and bottom to multiples of 32.
    pub fn fit(width: u32, height: u32, max_side: u32) -> Letterbox {
        let longer = width.max(height) as f32;
        let scale = (max_side as f32 / longer).min(1.0);
        let scaled = |v: u32| ((v as f32 * scale).round() as u32).max(1);
        let align = |v: u32| v.div_ceil(DETECTOR_ALIGN) * DETECTOR_ALIGN;
        Letterbox { scale, input_width: align(scaled(width)), input_height: align(scaled(height)) }
    }

    /// The detector's input: BGR, 0–255, NCHW, zero padding (what YuNet was trained on).
    pub fn tensor(&self, frame: &Frame) -> Tensor {
        let (w, h) = (self.input_width as usize, self.input_height as usize);
        let (sw, sh) = (
            ((frame.width as f32 * self.scale).round() as usize).min(w),
            ((frame.height as f32 * self.scale).round() as usize).min(h),
        );
        // Filled in place: an intermediate Vec would be copied into the tensor and freed unwiped.
        let mut tensor = Tensor::zero::<f32>(&[1, 3, h, w]).expect("f32 tensors can be zeroed");
        let mut view = tensor.try_as_plain_ram_mut().expect("a fresh tensor is plain");
        let data = view.as_slice_mut::<f32>().expect("an f32 tensor");
        if self.scale == 1.0 {
            for y in 0..sh {
                for x in 0..sw {
                    for (plane, c) in [2usize, 1, 0].into_iter().enumerate() {
                        data[plane * w * h + y * w + x] = frame.rgb[(y * frame.width as usize + x) * 3 + c] as f32;
                    }
                }
            }
            return tensor;
        }
        // Bilinear, as [`Frame::sample`] computes it (the same operations in the same order, so the
        // same values), with each column's and row's taps worked out once instead of per pixel and
        // channel: the reduced input the kiosk runs on most frames is resampled every frame.
        let (columns, rows) = (Tap::along(sw, frame.width, self.scale), Tap::along(sh, frame.height, self.scale));
        let width = frame.width as usize;
        for (y, ty) in rows.iter().enumerate() {
            for (x, tx) in columns.iter().enumerate() {
                for (plane, c) in [2usize, 1, 0].into_iter().enumerate() {
                    let at = |xi: Option<usize>, yi: Option<usize>| match (xi, yi) {
                        (Some(xi), Some(yi)) => frame.rgb[(yi * width + xi) * 3 + c] as f32,
                        _ => 0.0,
                    };
                    let top = at(tx.first, ty.first) * (1.0 - tx.weight) + at(tx.second, ty.first) * tx.weight;
                    let bottom = at(tx.first, ty.second) * (1.0 - tx.weight) + at(tx.second, ty.second) * tx.weight;
                    data[plane * w * h + y * w + x] = top * (1.0 - ty.weight) + bottom * ty.weight;
                }
            }
        }
        tensor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgba_length_must_match_the_size() {
        let err = Frame::from_rgba(4, 3, &[0; 47]).unwrap_err();
        assert!(matches!(err, Error::FrameBufferLength { expected: 48, actual: 47, .. }), "{err}");
        assert!(err.to_string().contains("needs 48"));
    }

    #[test]
    fn a_frame_buffer_is_reused_per_size_and_wiped_after_every_frame_even_a_refused_one() {
        let mut buffer = FrameBuffer::default();
        assert!(matches!(buffer.take_frame(2, 1), Err(Error::FrameBufferNotPrepared { .. })), "nothing prepared yet");
        let first = buffer.for_size(2, 1).unwrap();
        first.copy_from_slice(&[1, 2, 3, 255, 4, 5, 6, 255]);
        let address = first.as_ptr();
        let frame = buffer.take_frame(2, 1).unwrap();
        assert_eq!(frame.rgb(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(buffer.bytes(), &[0; 8], "wiped once taken");

        let again = buffer.for_size(2, 1).unwrap();
        assert_eq!(again.as_ptr(), address, "the same size reuses the allocation");
        again.fill(9);
        let err = buffer.take_frame(1, 2).unwrap_err();
        assert!(err.to_string().contains("prepared for 2×1"), "{err}");
        assert_eq!(buffer.bytes(), &[0; 8], "wiped when the frame is refused too");
        assert!(matches!(buffer.take_frame(0, 0), Err(Error::FrameSize { .. })));

        assert_eq!(buffer.for_size(3, 3).unwrap().len(), 36);
        assert!(matches!(buffer.for_size(9000, 1), Err(Error::FrameSize { .. })));
    }

    #[test]
    fn empty_and_huge_frames_are_refused() {
        assert!(matches!(Frame::from_rgba(0, 10, &[]), Err(Error::FrameSize { .. })));
        assert!(matches!(Frame::from_rgba(9000, 1, &[]), Err(Error::FrameSize { .. })));
    }

    #[test]
    fn letterbox_scales_down_and_pads_to_multiples_of_32() {
        assert_eq!(Letterbox::fit(640, 480, 640), Letterbox { scale: 1.0, input_width: 640, input_height: 480 });
        assert_eq!(Letterbox::fit(250, 250, 640), Letterbox { scale: 1.0, input_width: 256, input_height: 256 });
        let hd = Letterbox::fit(1920, 1080, 640);
        assert_eq!((hd.input_width, hd.input_height), (640, 384));
        let odd = Letterbox::fit(333, 17, 640);
        assert_eq!((odd.input_width, odd.input_height), (352, 32));
    }

    #[test]
    fn a_downscaled_tensor_holds_exactly_the_bilinear_samples_of_the_frame() {
        let (width, height) = (97u32, 61u32);
        let rgba: Vec<u8> = (0..width * height * 4).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let frame = Frame::from_rgba(width, height, &rgba).unwrap();
        let letterbox = Letterbox::fit(width, height, 40);
        assert!(letterbox.scale < 1.0);
        let t = letterbox.tensor(&frame);
        let v = t.to_plain_array_view::<f32>().unwrap();
        let (sw, sh) =
            ((width as f32 * letterbox.scale).round() as usize, (height as f32 * letterbox.scale).round() as usize);
        for y in 0..letterbox.input_height as usize {
            for x in 0..letterbox.input_width as usize {
                for (plane, c) in [2usize, 1, 0].into_iter().enumerate() {
                    let expected = if x < sw && y < sh {
                        let sx = (x as f32 + 0.5) / letterbox.scale - 0.5;
                        let sy = (y as f32 + 0.5) / letterbox.scale - 0.5;
                        frame.sample(sx.max(0.0), sy.max(0.0), c)
                    } else {
                        0.0
                    };
                    assert_eq!(v[[0, plane, y, x]].to_bits(), expected.to_bits(), "({x}, {y}) channel {c}");
                }
            }
        }
    }

    #[test]
    fn detector_tensor_is_bgr_with_zero_padding() {
        let frame = Frame::from_rgba(1, 1, &[10, 20, 30, 255]).unwrap();
        let t = Letterbox::fit(1, 1, 640).tensor(&frame);
        let v = t.to_plain_array_view::<f32>().unwrap();
        assert_eq!(v.shape(), &[1, 3, 32, 32]);
        assert_eq!((v[[0, 0, 0, 0]], v[[0, 1, 0, 0]], v[[0, 2, 0, 0]]), (30.0, 20.0, 10.0));
        assert_eq!(v[[0, 0, 0, 1]], 0.0);
    }
}
