//! Pre-processing: photos to the models' input tensors. The PP-OCR models were trained on
//! OpenCV's BGR channel order, normalised to [-1, 1]; the detector takes sides that are
//! multiples of 32, the recogniser lines 48 pixels high.

use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};

use crate::geometry::{Quad, dist, homography, project};

/// An image as a CHW float tensor in BGR order, normalised to [-1, 1].
#[derive(Debug, Clone)]
pub struct Chw {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

/// Writes `img` (RGB) into `out` at channel stride `plane`, row stride `stride`, BGR,
/// `(v / 255 - 0.5) / 0.5`.
fn write_bgr(img: &RgbImage, out: &mut [f32], plane: usize, stride: usize) {
    for (x, y, p) in img.enumerate_pixels() {
        let i = y as usize * stride + x as usize;
        for (c, v) in [p[2], p[1], p[0]].into_iter().enumerate() {
            out[c * plane + i] = f32::from(v) / 127.5 - 1.0;
        }
    }
}

/// The detector's input size for an image of `w` x `h`: the short side brought up to at
/// least `min_side` (small photos are enlarged so thin strokes survive), the long side
/// kept within `max_side`, both rounded to multiples of 32.
pub fn det_size(w: u32, h: u32, min_side: u32, max_side: u32) -> (u32, u32) {
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let mut ratio = 1.0_f64;
    if w.min(h) < f64::from(min_side) {
        ratio = f64::from(min_side) / w.min(h);
    }
    if w.max(h) * ratio > f64::from(max_side) {
        ratio = f64::from(max_side) / w.max(h);
    }
    let round32 = |v: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let r = ((v / 32.0).round() as u32) * 32;
        r.max(32)
    };
    (round32(w * ratio), round32(h * ratio))
}

/// The detector's input for `img`, resized to `(w, h)`.
pub fn det_input(img: &RgbImage, w: u32, h: u32) -> Chw {
    let resized = image::imageops::resize(img, w, h, FilterType::Triangle);
    let (w, h) = (w as usize, h as usize);
    let mut data = vec![0.0; 3 * w * h];
    write_bgr(&resized, &mut data, w * h, w);
    Chw {
        width: w,
        height: h,
        data,
    }
}

/// The text line inside `quad`, straightened (perspective-corrected, bilinear) to its own
/// width and height; a line at least 1.5 times taller than wide is turned to read left to
/// right. `None` when the quad is degenerate.
pub fn crop(img: &RgbImage, quad: &Quad) -> Option<RgbImage> {
    let w = dist(quad[0], quad[1]).max(dist(quad[3], quad[2]));
    let h = dist(quad[0], quad[3]).max(dist(quad[1], quad[2]));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (cw, ch) = (w.round() as u32, h.round() as u32);
    if cw < 2 || ch < 2 {
        return None;
    }
    let hm = homography(w, h, quad)?;
    let (iw, ih) = (img.width(), img.height());
    let mut out = RgbImage::new(cw, ch);
    for y in 0..ch {
        for x in 0..cw {
            let (sx, sy) = project(&hm, f64::from(x) + 0.5, f64::from(y) + 0.5);
            out.put_pixel(x, y, bilinear(img, sx - 0.5, sy - 0.5, iw, ih));
        }
    }
    if f64::from(ch) >= 1.5 * f64::from(cw) {
        out = image::imageops::rotate270(&out);
    }
    Some(out)
}

/// Bilinear sample with the border replicated.
fn bilinear(img: &RgbImage, x: f64, y: f64, w: u32, h: u32) -> image::Rgb<u8> {
    let clamp = |v: f64, max: u32| v.clamp(0.0, f64::from(max - 1));
    let (x, y) = (clamp(x, w), clamp(y, h));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - f64::from(x0), y - f64::from(y0));
    let p = |xx, yy| img.get_pixel(xx, yy).0;
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    let mut out = [0u8; 3];
    for i in 0..3 {
        let v = f64::from(a[i]) * (1.0 - fx) * (1.0 - fy)
            + f64::from(b[i]) * fx * (1.0 - fy)
            + f64::from(c[i]) * (1.0 - fx) * fy
            + f64::from(d[i]) * fx * fy;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        {
            out[i] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    image::Rgb(out)
}

/// Line height the recogniser takes.
pub const REC_HEIGHT: u32 = 48;

/// A batch of lines for the recogniser: each resized to 48 pixels high keeping its aspect
/// (at most `width` wide), left-aligned and zero-padded to `width`.
pub fn rec_batch(lines: &[&RgbImage], width: u32) -> Chw {
    let (w, h) = (width as usize, REC_HEIGHT as usize);
    let mut data = vec![0.0; lines.len() * 3 * w * h];
    for (n, line) in lines.iter().enumerate() {
        let ratio = f64::from(line.width()) / f64::from(line.height().max(1));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rw = ((f64::from(REC_HEIGHT) * ratio).ceil() as u32).clamp(1, width);
        let resized = image::imageops::resize(*line, rw, REC_HEIGHT, FilterType::Triangle);
        let item = &mut data[n * 3 * w * h..(n + 1) * 3 * w * h];
        write_bgr(&resized, item, w * h, w);
    }
    Chw {
        width: w,
        height: h,
        data,
    }
}

/// The image as RGB8 (alpha dropped, 16-bit narrowed).
pub fn rgb(img: &DynamicImage) -> RgbImage {
    img.to_rgb8()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_sizes_are_multiples_of_32_within_bounds() {
        assert_eq!(det_size(1600, 1000, 736, 2000), (1600, 992));
        assert_eq!(det_size(400, 300, 736, 2000), (992, 736));
        assert_eq!(det_size(4000, 3000, 736, 2000), (2016, 1504));
        let (w, h) = det_size(1, 1, 736, 2000);
        assert!(w % 32 == 0 && h % 32 == 0 && w >= 32 && h >= 32);
    }

    #[test]
    fn normalisation_is_bgr_in_minus_one_to_one() {
        let mut img = RgbImage::new(1, 1);
        img.put_pixel(0, 0, image::Rgb([255, 0, 128]));
        let t = det_input(&img, 32, 32);
        assert!(
            (t.data[0] - 0.003_921_6).abs() < 1e-3,
            "B first: {}",
            t.data[0]
        );
        assert!((t.data[32 * 32 * 2] - 1.0).abs() < 1e-6, "R last");
    }

    #[test]
    fn a_crop_straightens_an_axis_aligned_box() {
        let mut img = RgbImage::new(100, 50);
        for x in 20..60 {
            for y in 10..20 {
                img.put_pixel(x, y, image::Rgb([200, 0, 0]));
            }
        }
        let c = crop(
            &img,
            &[[20.0, 10.0], [60.0, 10.0], [60.0, 20.0], [20.0, 20.0]],
        )
        .expect("crop");
        assert_eq!((c.width(), c.height()), (40, 10));
        assert_eq!(c.get_pixel(20, 5).0, [200, 0, 0]);
        let tall = crop(&img, &[[0.0, 0.0], [10.0, 0.0], [10.0, 40.0], [0.0, 40.0]]).expect("crop");
        assert!(tall.width() > tall.height(), "vertical text is turned");
        assert!(crop(&img, &[[5.0, 5.0]; 4]).is_none());
    }

    #[test]
    fn a_rec_batch_pads_to_the_widest() {
        let a = RgbImage::from_pixel(96, 48, image::Rgb([255, 255, 255]));
        let b = RgbImage::from_pixel(480, 48, image::Rgb([255, 255, 255]));
        let t = rec_batch(&[&a, &b], 320);
        assert_eq!(
            (t.width, t.height, t.data.len()),
            (320, 48, 2 * 3 * 320 * 48)
        );
        assert!(
            (t.data[95] - 1.0).abs() < 1e-6 && t.data[97] == 0.0,
            "padded after 96 px"
        );
    }
}
