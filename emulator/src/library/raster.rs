//! Pictures for the sample library: a small procedural landscape per item, rendered
//! at any size (so a thumbnail is the same picture scaled, not a placeholder), and
//! the JPEG, PNG and WebP encoders that wrap it with the item's metadata block.

use crate::rng::Rng;

/// The parameters of one item's picture.
#[derive(Debug, Clone)]
pub struct Scene {
    sky_top: [f32; 3],
    sky_bottom: [f32; 3],
    ground: [f32; 3],
    sun: [f32; 3],
    sun_at: (f32, f32),
    sun_radius: f32,
    horizon: f32,
    hills: [(f32, f32, f32); 3],
    stripes: f32,
}

/// The part of the full picture to draw, in unit coordinates (for centre crops).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    x0: f32,
    y0: f32,
    w: f32,
    h: f32,
}

impl Window {
    /// The whole picture.
    pub const FULL: Window = Window {
        x0: 0.0,
        y0: 0.0,
        w: 1.0,
        h: 1.0,
    };

    /// The centred part of a `src_w`×`src_h` picture with the aspect ratio of
    /// `dst_w`×`dst_h`.
    pub fn centre_crop(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Window {
        let src = src_w as f32 / src_h.max(1) as f32;
        let dst = dst_w as f32 / dst_h.max(1) as f32;
        if dst > src {
            let h = src / dst;
            Window {
                x0: 0.0,
                y0: (1.0 - h) / 2.0,
                w: 1.0,
                h,
            }
        } else {
            let w = dst / src;
            Window {
                x0: (1.0 - w) / 2.0,
                y0: 0.0,
                w,
                h: 1.0,
            }
        }
    }
}

impl Scene {
    /// A scene drawn from `rng`: sky, sun, hills; `night` darkens it.
    pub fn random(rng: &mut Rng) -> Scene {
        let mut colour =
            |lo: f32, hi: f32| [0, 1, 2].map(|_| lo + (hi - lo) * rng.next_f64() as f32);
        let sky_top = colour(20.0, 140.0);
        let sky_bottom = colour(120.0, 255.0);
        let ground = colour(30.0, 160.0);
        let sun = [
            255.0,
            200.0 + 55.0 * rng.next_f64() as f32,
            120.0 * rng.next_f64() as f32,
        ];
        let sun_at = (
            0.15 + 0.7 * rng.next_f64() as f32,
            0.1 + 0.35 * rng.next_f64() as f32,
        );
        let sun_radius = 0.04 + 0.08 * rng.next_f64() as f32;
        let horizon = 0.5 + 0.2 * rng.next_f64() as f32;
        let hills = [0, 1, 2].map(|_| {
            (
                1.0 + 5.0 * rng.next_f64() as f32,
                std::f32::consts::TAU * rng.next_f64() as f32,
                0.02 + 0.08 * rng.next_f64() as f32,
            )
        });
        let stripes = 8.0 + 40.0 * rng.next_f64() as f32;
        Scene {
            sky_top,
            sky_bottom,
            ground,
            sun,
            sun_at,
            sun_radius,
            horizon,
            hills,
            stripes,
        }
    }

    /// RGB pixels of the `window` part of the scene at `width`×`height`.
    ///
    /// Everything that depends on one axis only (the ridge line, the furrows, the sky
    /// gradient) is computed once per column or row: this runs for every item at
    /// every start of a debug-built test, so it has to be cheap.
    pub fn render(&self, width: u32, height: u32, window: Window) -> Vec<u8> {
        let (w, h) = (width.max(1) as usize, height.max(1) as usize);
        let xs: Vec<f32> = (0..w)
            .map(|px| window.x0 + window.w * (px as f32 + 0.5) / w as f32)
            .collect();
        let ys: Vec<f32> = (0..h)
            .map(|py| window.y0 + window.h * (py as f32 + 0.5) / h as f32)
            .collect();
        let ridge: Vec<f32> = xs
            .iter()
            .map(|&x| {
                self.horizon
                    + self
                        .hills
                        .iter()
                        .map(|&(f, p, a)| a * (x * f * std::f32::consts::TAU + p).sin())
                        .sum::<f32>()
            })
            .collect();
        let column_furrow: Vec<f32> = xs.iter().map(|&x| (x * 3.0).cos()).collect();
        let row_furrow: Vec<f32> = ys
            .iter()
            .map(|&y| (y * self.stripes * std::f32::consts::TAU).sin())
            .collect();
        // Pixel aspect of the whole picture, so the sun stays round at any size.
        let aspect = (w as f32 / window.w) / (h as f32 / window.h);
        let mut out = vec![0u8; w * h * 3];
        for (py, row) in out.chunks_exact_mut(w * 3).enumerate() {
            let y = ys[py];
            for (px, pixel) in row.chunks_exact_mut(3).enumerate() {
                let x = xs[px];
                let ground_line = ridge[px];
                let c = if y > ground_line {
                    // Ground: darker further down, with furrows so JPEGs have detail.
                    let depth = (y - ground_line) / (1.0 - ground_line).max(0.01);
                    let shade =
                        (1.0 - 0.5 * depth) * (0.85 + 0.15 * row_furrow[py] * column_furrow[px]);
                    [
                        self.ground[0] * shade,
                        self.ground[1] * shade,
                        self.ground[2] * shade,
                    ]
                } else {
                    self.sky_at(x, y, ground_line, aspect)
                };
                pixel[0] = c[0].clamp(0.0, 255.0) as u8;
                pixel[1] = c[1].clamp(0.0, 255.0) as u8;
                pixel[2] = c[2].clamp(0.0, 255.0) as u8;
            }
        }
        out
    }

    fn sky_at(&self, x: f32, y: f32, ground_line: f32, aspect: f32) -> [f32; 3] {
        let (dx, dy) = ((x - self.sun_at.0) * aspect, y - self.sun_at.1);
        let d2 = dx * dx + dy * dy;
        if d2 < self.sun_radius * self.sun_radius {
            return self.sun;
        }
        let t = y / ground_line.max(0.01);
        let mut c: [f32; 3] =
            std::array::from_fn(|i| self.sky_top[i] + (self.sky_bottom[i] - self.sky_top[i]) * t);
        // Glow around the sun, only near it (sqrt is the costly part).
        let reach = self.sun_radius + 0.25;
        if d2 < reach * reach {
            let glow = (1.0 - (d2.sqrt() - self.sun_radius) * 4.0).max(0.0) * 0.35;
            for (channel, sun) in c.iter_mut().zip(self.sun) {
                *channel += (sun - *channel) * glow;
            }
        }
        c
    }
}

/// Fits `w`×`h` inside `max_w`×`max_h`, keeping the aspect ratio, never upscaling.
pub fn fit(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    if w <= max_w && h <= max_h {
        return (w, h);
    }
    let scale = (max_w as f64 / w as f64).min(max_h as f64 / h as f64);
    (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    )
}

/// Why encoding failed (only on impossible sizes; the sample never hits it).
pub type EncodeError = String;

/// Bytes per pixel of a grainy picture as a quality-88 JPEG, measured on the
/// sample scenes (`photo_size_makes_photos_about_that_large` checks it).
const GRAINY_JPEG_BYTES_PER_PIXEL: f64 = 0.38;

/// `width`×`height` scaled (aspect kept) so that a grainy quality-88 JPEG of it is
/// about `target_bytes`, the way a phone's photo is large because it has many
/// noisy pixels. Never smaller than the original, at most 16,384 px a side.
pub fn grainy_dimensions(width: u32, height: u32, target_bytes: u64) -> (u32, u32) {
    let pixels = f64::from(width) * f64::from(height);
    let scale = (target_bytes as f64 / (pixels * GRAINY_JPEG_BYTES_PER_PIXEL))
        .sqrt()
        .max(1.0);
    let side = |n: u32| ((f64::from(n) * scale).round() as u32).clamp(1, 16_384);
    (side(width), side(height))
}

/// Adds sensor-like grain to an RGB picture `width` pixels wide: mostly luminance,
/// a little colour, drawn from `seed` so the same item always gets the same bytes.
pub fn add_grain(rgb: &mut [u8], width: u32, seed: u64) {
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64*: cheap, and plenty for noise.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let row = width.max(1) as usize * 3;
    for line in rgb.chunks_mut(row) {
        for pixel in line.chunks_exact_mut(3) {
            let r = next();
            let luma = ((r & 0xff) as i16 - 128) / 6;
            for (n, channel) in pixel.iter_mut().enumerate() {
                let chroma = (((r >> (8 + 8 * n)) & 0xff) as i16 - 128) / 24;
                *channel = (i16::from(*channel) + luma + chroma).clamp(0, 255) as u8;
            }
        }
    }
}

/// A baseline JPEG; `app_segments` (APPn number, payload) are written right after SOI
/// (the encoder adds JFIF APP0 first).
pub fn encode_jpeg(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    app_segments: &[(u8, Vec<u8>)],
) -> Result<Vec<u8>, EncodeError> {
    let (w, h) = (
        u16::try_from(width).map_err(|e| e.to_string())?,
        u16::try_from(height).map_err(|e| e.to_string())?,
    );
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    for (n, data) in app_segments {
        enc.add_app_segment(*n, data.clone())
            .map_err(|e| e.to_string())?;
    }
    enc.encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// A PNG with an `eXIf` chunk (before IDAT, as the spec requires) when `exif` is given.
pub fn encode_png(
    rgb: &[u8],
    width: u32,
    height: u32,
    exif: Option<&[u8]>,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // fdeflate's fast mode: the sample is regenerated at every start.
        enc.set_compression(png::Compression::Fastest);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        if let Some(exif) = exif {
            writer
                .write_chunk(png::chunk::eXIf, exif)
                .map_err(|e| e.to_string())?;
        }
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// A lossless WebP in the extended (VP8X) container with an `EXIF` chunk holding
/// `exif` exactly as given (the sample passes one with an `Exif\0\0` prefix, which the
/// WebP spec does not want but real files have).
pub fn encode_webp(
    rgb: &[u8],
    width: u32,
    height: u32,
    exif: Option<Vec<u8>>,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    let mut enc = image_webp::WebPEncoder::new(&mut out);
    if let Some(exif) = exif {
        enc.set_exif_metadata(exif);
    }
    enc.encode(rgb, width, height, image_webp::ColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(1600, 1200, 400, 400), (400, 300));
        assert_eq!(fit(1200, 1600, 400, 400), (300, 400));
        assert_eq!(fit(100, 50, 400, 400), (100, 50));
        assert_eq!(fit(4000, 10, 100, 100), (100, 1));
    }

    #[test]
    fn encoders_produce_their_formats() {
        let scene = Scene::random(&mut Rng::new(3));
        let rgb = scene.render(40, 30, Window::FULL);
        let jpeg = encode_jpeg(&rgb, 40, 30, 80, &[(1, b"Exif\0\0II*\0".to_vec())]).unwrap();
        assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
        assert!(jpeg.windows(6).any(|w| w == b"Exif\0\0"));
        let png = encode_png(&rgb, 40, 30, Some(b"II*\0\x08\0\0\0\0\0")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let exif_at = png.windows(4).position(|w| w == b"eXIf").unwrap();
        let idat_at = png.windows(4).position(|w| w == b"IDAT").unwrap();
        assert!(exif_at < idat_at);
        let webp = encode_webp(&rgb, 40, 30, Some(b"Exif\0\0II*\0".to_vec())).unwrap();
        assert_eq!(&webp[8..16], b"WEBPVP8X");
        assert!(webp.windows(10).any(|w| w == b"EXIF\x0a\0\0\0Ex"));
    }

    #[test]
    fn centre_crop_takes_the_middle() {
        let w = Window::centre_crop(400, 200, 100, 100);
        assert!((w.w - 0.5).abs() < 1e-6 && (w.x0 - 0.25).abs() < 1e-6 && w.h == 1.0);
    }
}
