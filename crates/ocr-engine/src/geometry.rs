//! Plane geometry the detector and the cropper need: connected regions of a bitmap, their
//! convex hull and minimum-area rectangle, and the perspective transform that straightens
//! a rotated text box. Pure and deterministic.

/// A point in pixels.
pub type Point = [f32; 2];

/// A quadrilateral: top-left, top-right, bottom-right, bottom-left.
pub type Quad = [Point; 4];

/// One 8-connected region of set pixels: its extreme points per row (enough for its
/// convex hull) and the pixels' count and coordinates.
#[derive(Debug, Clone)]
pub struct Region {
    /// For each row it spans: (y, min x, max x).
    pub rows: Vec<(u32, u32, u32)>,
    /// Every pixel, as indices into the bitmap.
    pub pixels: Vec<u32>,
}

/// The 8-connected regions of `mask` (`width` x `height`, non-zero = set), at most `max`
/// of them, in scan order.
pub fn regions(mask: &[u8], width: usize, height: usize, max: usize) -> Vec<Region> {
    let mut seen = vec![false; mask.len()];
    let mut out = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..mask.len() {
        if mask[start] == 0 || seen[start] {
            continue;
        }
        if out.len() >= max {
            break;
        }
        seen[start] = true;
        stack.push(start);
        let mut pixels = Vec::new();
        let mut rows: std::collections::BTreeMap<u32, (u32, u32)> =
            std::collections::BTreeMap::new();
        while let Some(i) = stack.pop() {
            let (x, y) = (i % width, i / width);
            pixels.push(u32::try_from(i).unwrap_or(u32::MAX));
            let (xu, yu) = (
                u32::try_from(x).unwrap_or(u32::MAX),
                u32::try_from(y).unwrap_or(u32::MAX),
            );
            rows.entry(yu)
                .and_modify(|(lo, hi)| {
                    *lo = (*lo).min(xu);
                    *hi = (*hi).max(xu);
                })
                .or_insert((xu, xu));
            for dy in [-1_i64, 0, 1] {
                for dx in [-1_i64, 0, 1] {
                    if dx == 0 && dy == 0 {
                        continue;
                    }
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= width as i64 || ny >= height as i64 {
                        continue;
                    }
                    #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
                    let j = ny as usize * width + nx as usize;
                    if mask[j] != 0 && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        out.push(Region {
            rows: rows.into_iter().map(|(y, (lo, hi))| (y, lo, hi)).collect(),
            pixels,
        });
    }
    out
}

fn cross(o: Point, a: Point, b: Point) -> f32 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Convex hull (Andrew's monotone chain), counter-clockwise, without collinear points.
pub fn convex_hull(points: &[Point]) -> Vec<Point> {
    let mut pts: Vec<Point> = points.to_vec();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut lower: Vec<Point> = Vec::new();
    for p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], *p) <= 0.0 {
            lower.pop();
        }
        lower.push(*p);
    }
    let mut upper: Vec<Point> = Vec::new();
    for p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], *p) <= 0.0 {
            upper.pop();
        }
        upper.push(*p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// A rotated rectangle: centre, side lengths along `axis` and across it, and `axis`, the
/// unit direction of the first side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedRect {
    pub center: Point,
    pub along: f32,
    pub across: f32,
    pub axis: Point,
}

impl RotatedRect {
    /// The shorter side.
    pub fn short_side(&self) -> f32 {
        self.along.min(self.across)
    }

    /// The rectangle grown by `d` on every side.
    #[must_use]
    pub fn grown(&self, d: f32) -> Self {
        Self {
            along: self.along + 2.0 * d,
            across: self.across + 2.0 * d,
            ..*self
        }
    }

    /// Its corners, ordered top-left, top-right, bottom-right, bottom-left in image
    /// coordinates (y down), the long side taken as the text's direction.
    pub fn corners(&self) -> Quad {
        let [ux, uy] = self.axis;
        let (vx, vy) = (-uy, ux);
        let (ha, hc) = (self.along / 2.0, self.across / 2.0);
        let [cx, cy] = self.center;
        let pts = [
            [cx - ux * ha - vx * hc, cy - uy * ha - vy * hc],
            [cx + ux * ha - vx * hc, cy + uy * ha - vy * hc],
            [cx + ux * ha + vx * hc, cy + uy * ha + vy * hc],
            [cx - ux * ha + vx * hc, cy - uy * ha + vy * hc],
        ];
        order_quad(pts)
    }
}

/// Orders four corners as top-left, top-right, bottom-right, bottom-left: the two
/// leftmost are the left side (the upper one first), the two rightmost the right side.
pub fn order_quad(mut pts: Quad) -> Quad {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let (mut left, mut right) = ([pts[0], pts[1]], [pts[2], pts[3]]);
    if left[0][1] > left[1][1] {
        left.swap(0, 1);
    }
    if right[0][1] > right[1][1] {
        right.swap(0, 1);
    }
    [left[0], right[0], right[1], left[1]]
}

/// The minimum-area rectangle around `points` (rotating calipers over the hull's edges).
/// `None` for fewer than one point.
pub fn min_area_rect(points: &[Point]) -> Option<RotatedRect> {
    let hull = convex_hull(points);
    let first = *hull.first()?;
    if hull.len() < 3 {
        // A point or a segment: a degenerate rectangle along it.
        let last = *hull.last()?;
        let (dx, dy) = (last[0] - first[0], last[1] - first[1]);
        let len = (dx * dx + dy * dy).sqrt();
        let axis = if len > 0.0 {
            [dx / len, dy / len]
        } else {
            [1.0, 0.0]
        };
        return Some(RotatedRect {
            center: [
                f32::midpoint(first[0], last[0]),
                f32::midpoint(first[1], last[1]),
            ],
            along: len,
            across: 0.0,
            axis,
        });
    }
    let mut best: Option<(f32, RotatedRect)> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = (dx * dx + dy * dy).sqrt();
        if len == 0.0 {
            continue;
        }
        let u = [dx / len, dy / len];
        let v = [-u[1], u[0]];
        let (mut u_lo, mut u_hi, mut v_lo, mut v_hi) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in &hull {
            let pu = p[0] * u[0] + p[1] * u[1];
            let pv = p[0] * v[0] + p[1] * v[1];
            u_lo = u_lo.min(pu);
            u_hi = u_hi.max(pu);
            v_lo = v_lo.min(pv);
            v_hi = v_hi.max(pv);
        }
        let area = (u_hi - u_lo) * (v_hi - v_lo);
        if best.as_ref().is_none_or(|(a, _)| area < *a) {
            let (cu, cv) = (f32::midpoint(u_lo, u_hi), f32::midpoint(v_lo, v_hi));
            let center = [cu * u[0] + cv * v[0], cu * u[1] + cv * v[1]];
            let (along, across, axis) = if u_hi - u_lo >= v_hi - v_lo {
                (u_hi - u_lo, v_hi - v_lo, u)
            } else {
                (v_hi - v_lo, u_hi - u_lo, v)
            };
            // Text runs left to right: point the axis rightwards.
            let axis = if axis[0] < 0.0 || (axis[0] == 0.0 && axis[1] < 0.0) {
                [-axis[0], -axis[1]]
            } else {
                axis
            };
            best = Some((
                area,
                RotatedRect {
                    center,
                    along,
                    across,
                    axis,
                },
            ));
        }
    }
    best.map(|(_, r)| r)
}

/// The homography taking the unit-free rectangle `[0,w]x[0,h]` (corners in `Quad` order)
/// onto `quad`: maps output pixels to source pixels. `None` when degenerate.
pub fn homography(w: f32, h: f32, quad: &Quad) -> Option<[f64; 9]> {
    let src = [
        [0.0, 0.0],
        [f64::from(w), 0.0],
        [f64::from(w), f64::from(h)],
        [0.0, f64::from(h)],
    ];
    // Solve for a..h in x' = (ax + by + c) / (gx + hy + 1), y' = (dx + ey + f) / (gx + hy + 1).
    let mut m = [[0.0_f64; 9]; 8];
    for i in 0..4 {
        let [x, y] = src[i];
        let (xp, yp) = (f64::from(quad[i][0]), f64::from(quad[i][1]));
        m[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * xp, -y * xp, xp];
        m[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -x * yp, -y * yp, yp];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..8 {
        let pivot = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        for row in 0..8 {
            if row != col {
                let f = m[row][col] / m[col][col];
                let pivot_row = m[col];
                for (k, v) in m[row].iter_mut().enumerate().skip(col) {
                    *v -= f * pivot_row[k];
                }
            }
        }
    }
    let s: Vec<f64> = (0..8).map(|i| m[i][8] / m[i][i]).collect();
    Some([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], 1.0])
}

/// Applies a homography to a point.
pub fn project(h: &[f64; 9], x: f64, y: f64) -> (f64, f64) {
    let d = h[6] * x + h[7] * y + h[8];
    let d = if d.abs() < 1e-12 { 1e-12 } else { d };
    (
        (h[0] * x + h[1] * y + h[2]) / d,
        (h[3] * x + h[4] * y + h[5]) / d,
    )
}

/// Euclidean distance.
pub fn dist(a: Point, b: Point) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_8_connected() {
        #[rustfmt::skip]
        let mask = [
            1, 1, 0, 0, 0,
            0, 1, 0, 0, 1,
            0, 0, 1, 0, 1,
            0, 0, 0, 0, 0,
        ];
        let r = regions(&mask, 5, 4, 10);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].pixels.len(), 4, "diagonal neighbours join");
        assert_eq!(r[1].pixels.len(), 2);
        assert_eq!(regions(&mask, 5, 4, 1).len(), 1, "bounded");
    }

    #[test]
    fn the_min_area_rect_of_a_rotated_rectangle_is_itself() {
        // A 40 x 10 rectangle rotated by 30 degrees around (100, 100).
        let (c, s) = (30_f32.to_radians().cos(), 30_f32.to_radians().sin());
        let mut pts = Vec::new();
        for i in 0..=40 {
            for j in 0..=10 {
                let (x, y) = (i as f32 - 20.0, j as f32 - 5.0);
                pts.push([100.0 + x * c - y * s, 100.0 + x * s + y * c]);
            }
        }
        let r = min_area_rect(&pts).expect("a rect");
        assert!((r.along - 40.0).abs() < 0.5, "{r:?}");
        assert!((r.across - 10.0).abs() < 0.5, "{r:?}");
        assert!((r.center[0] - 100.0).abs() < 0.5 && (r.center[1] - 100.0).abs() < 0.5);
        assert!((r.axis[1] / r.axis[0] - s / c).abs() < 0.01, "{r:?}");
        let q = r.corners();
        assert!(q[0][0] < q[1][0] && q[3][1] > q[0][1], "{q:?}");
    }

    #[test]
    fn a_homography_maps_the_rectangle_onto_the_quad() {
        let quad = [[10.0, 20.0], [110.0, 25.0], [105.0, 60.0], [12.0, 55.0]];
        let h = homography(100.0, 40.0, &quad).expect("solvable");
        for (p, q) in [[0.0, 0.0], [100.0, 0.0], [100.0, 40.0], [0.0, 40.0]]
            .iter()
            .zip(quad)
        {
            let (x, y) = project(&h, p[0], p[1]);
            assert!((x - f64::from(q[0])).abs() < 1e-3 && (y - f64::from(q[1])).abs() < 1e-3);
        }
        assert!(homography(10.0, 10.0, &[[0.0, 0.0]; 4]).is_none());
    }

    #[test]
    fn hulls_drop_inner_and_collinear_points() {
        let h = convex_hull(&[
            [0.0, 0.0],
            [2.0, 0.0],
            [1.0, 0.0],
            [1.0, 1.0],
            [2.0, 2.0],
            [0.0, 2.0],
        ]);
        assert_eq!(h.len(), 4, "{h:?}");
    }
}
