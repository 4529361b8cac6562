//! Differentiable Binarization post-processing (PP-OCR's detector head): the probability
//! map thresholded and dilated, each connected region's minimum-area rectangle scored by
//! the mean probability inside it, grown by the unclip distance (area x ratio / perimeter,
//! as PaddleOCR computes it), and mapped back to the photo's pixels.

use crate::geometry::{Quad, min_area_rect, regions};

/// The detector's thresholds (PaddleOCR / RapidOCR defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbParams {
    /// A pixel is text above this probability.
    pub thresh: f32,
    /// A region is kept when its mean probability is above this.
    pub box_thresh: f32,
    /// How far a box is grown (the network predicts shrunk text kernels).
    pub unclip_ratio: f32,
    /// At most this many regions are looked at.
    pub max_candidates: usize,
}

impl Default for DbParams {
    fn default() -> Self {
        Self {
            thresh: 0.3,
            box_thresh: 0.5,
            unclip_ratio: 1.6,
            max_candidates: 1000,
        }
    }
}

/// A detected text box in the photo's pixels, with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    pub quad: Quad,
    pub score: f32,
}

/// Boxes from the probability map `prob` (`w` x `h`), scaled to a `dest_w` x `dest_h`
/// photo.
pub fn boxes(
    prob: &[f32],
    w: usize,
    h: usize,
    dest_w: u32,
    dest_h: u32,
    p: &DbParams,
) -> Vec<TextBox> {
    let mut mask: Vec<u8> = prob.iter().map(|&v| u8::from(v > p.thresh)).collect();
    dilate_2x2(&mut mask, w, h);
    let sx = dest_w as f32 / w as f32;
    let sy = dest_h as f32 / h as f32;
    let mut out = Vec::new();
    for region in regions(&mask, w, h, p.max_candidates) {
        let mut pts = Vec::with_capacity(region.rows.len() * 2);
        for &(y, lo, hi) in &region.rows {
            // Pixel corners, so that a one-pixel-high line still has an area.
            for (x, dy) in [
                (lo as f32, 0.0),
                (hi as f32 + 1.0, 0.0),
                (lo as f32, 1.0),
                (hi as f32 + 1.0, 1.0),
            ] {
                pts.push([x, y as f32 + dy]);
            }
        }
        let Some(rect) = min_area_rect(&pts) else {
            continue;
        };
        if rect.short_side() < 3.0 {
            continue;
        }
        let score = region.pixels.iter().map(|&i| prob[i as usize]).sum::<f32>()
            / region.pixels.len().max(1) as f32;
        if score < p.box_thresh {
            continue;
        }
        let area = rect.along * rect.across;
        let perimeter = 2.0 * (rect.along + rect.across);
        let grown = rect.grown(area * p.unclip_ratio / perimeter);
        if grown.short_side() < 5.0 {
            continue;
        }
        let mut quad = grown.corners();
        for pt in &mut quad {
            pt[0] = (pt[0] * sx).round().clamp(0.0, dest_w as f32 - 1.0);
            pt[1] = (pt[1] * sy).round().clamp(0.0, dest_h as f32 - 1.0);
        }
        let width = crate::geometry::dist(quad[0], quad[1]);
        let height = crate::geometry::dist(quad[0], quad[3]);
        if width <= 3.0 || height <= 3.0 {
            continue;
        }
        out.push(TextBox { quad, score });
    }
    out
}

/// OpenCV's `dilate` with a 2 x 2 kernel of ones (anchor top-left): a pixel is set when
/// it or its right, lower or lower-right neighbour is.
fn dilate_2x2(mask: &mut [u8], w: usize, h: usize) {
    let src = mask.to_vec();
    for y in 0..h {
        for x in 0..w {
            let at = |xx: usize, yy: usize| xx < w && yy < h && src[yy * w + xx] != 0;
            if at(x, y) || at(x + 1, y) || at(x, y + 1) || at(x + 1, y + 1) {
                mask[y * w + x] = 1;
            }
        }
    }
}

/// Reading order: top to bottom, and left to right within a line (boxes whose tops are
/// within `line_tolerance` pixels are one line), as PaddleOCR sorts them.
pub fn reading_order(boxes: &mut [TextBox], line_tolerance: f32) {
    boxes.sort_by(|a, b| {
        a.quad[0][1]
            .total_cmp(&b.quad[0][1])
            .then(a.quad[0][0].total_cmp(&b.quad[0][0]))
    });
    // Bubble within lines, as PaddleOCR's `sorted_boxes` does.
    for i in 0..boxes.len().saturating_sub(1) {
        let mut j = i;
        loop {
            let (a, b) = (&boxes[j], &boxes[j + 1]);
            if (b.quad[0][1] - a.quad[0][1]).abs() < line_tolerance && b.quad[0][0] < a.quad[0][0] {
                boxes.swap(j, j + 1);
            } else {
                break;
            }
            if j == 0 {
                break;
            }
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_kernel_becomes_a_grown_box_in_photo_pixels() {
        // A 32 x 32 map with one kernel at x 4..20, y 10..14, probability 0.9.
        let (w, h) = (32, 32);
        let mut prob = vec![0.0; w * h];
        for y in 10..14 {
            for x in 4..20 {
                prob[y * w + x] = 0.9;
            }
        }
        let found = boxes(&prob, w, h, 64, 64, &DbParams::default());
        assert_eq!(found.len(), 1, "{found:?}");
        let q = found[0].quad;
        // The mean over the dilated region: the kernel and its one-pixel rim.
        assert!(found[0].score > 0.6 && found[0].score < 0.9, "{found:?}");
        // Kernel 16 x 4 (+1 dilation) grown by ~1.5 px each side, then scaled by 2.
        assert!(q[0][0] < 8.0 && q[1][0] > 40.0, "{q:?}");
        assert!(q[0][1] < 20.0 && q[3][1] > 28.0, "{q:?}");
    }

    #[test]
    fn weak_and_tiny_regions_are_dropped() {
        let (w, h) = (32, 32);
        let mut prob = vec![0.0; w * h];
        prob[5 * w + 5] = 0.9; // a speck
        for y in 20..26 {
            for x in 2..30 {
                prob[y * w + x] = 0.35; // above thresh, below box_thresh
            }
        }
        assert!(boxes(&prob, w, h, 32, 32, &DbParams::default()).is_empty());
    }

    #[test]
    fn boxes_read_top_to_bottom_then_left_to_right() {
        let b = |x: f32, y: f32| TextBox {
            quad: [[x, y], [x + 10.0, y], [x + 10.0, y + 5.0], [x, y + 5.0]],
            score: 1.0,
        };
        let mut v = vec![b(50.0, 12.0), b(0.0, 30.0), b(5.0, 10.0)];
        reading_order(&mut v, 10.0);
        let xs: Vec<f32> = v.iter().map(|t| t.quad[0][0]).collect();
        assert_eq!(xs, [5.0, 50.0, 0.0]);
    }
}
