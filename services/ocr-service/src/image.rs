//! Photos in: checked, decoded under limits, oriented; and fitted for the vendor.
//!
//! A photo is untrusted input. Its size is checked before anything else, its format by
//! its magic bytes (JPEG and PNG only: no other codec is compiled in), its dimensions
//! from its header before a pixel is decoded (a decompression bomb, a tiny file that
//! claims a huge bitmap, is refused there), and the decoder runs under `image::Limits`
//! so that no allocation beyond `max_decode_bytes` is attempted. Decoding runs on the
//! blocking pool; a decoder panic there is caught and reported as a corrupt image.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::config::InputConfig;

/// Why a photo cannot be read: each one INVALID_ARGUMENT with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageProblem {
    #[error("is empty: send a JPEG or PNG photo of the 行驶证")]
    Empty,
    #[error(
        "is {size} bytes; at most {limit} bytes are accepted (downscale the photo, e.g. to 2000 px on its long side)"
    )]
    TooLarge { size: usize, limit: usize },
    #[error("is not a JPEG or PNG image{0}")]
    NotAnImage(String),
    #[error(
        "is {width}×{height} pixels; at most {max_pixels} pixels and {max_dimension} px per side are accepted"
    )]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_dimension: u32,
    },
    #[error("cannot be decoded ({0}): the file is corrupt or truncated")]
    Corrupt(String),
}

/// A photo ready for the readers: its bytes as received, its format, the decoded image.
#[derive(Debug, Clone)]
pub struct Photo {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub image: DynamicImage,
}

/// The format by magic bytes, `None` for anything but JPEG and PNG.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else {
        None
    }
}

/// The size check, before anything is buffered further or decoded.
pub fn check_size(size: usize, cfg: &InputConfig) -> Result<(), ImageProblem> {
    if size == 0 {
        return Err(ImageProblem::Empty);
    }
    if size > cfg.max_image_bytes {
        return Err(ImageProblem::TooLarge {
            size,
            limit: cfg.max_image_bytes,
        });
    }
    Ok(())
}

fn limits(cfg: &InputConfig) -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(cfg.max_dimension);
    l.max_image_height = Some(cfg.max_dimension);
    l.max_alloc = Some(cfg.max_decode_bytes);
    l
}

/// Checks and decodes a photo (blocking: call it on the blocking pool), EXIF
/// orientation applied, so that positions refer to the photo as a person sees it.
pub fn decode(bytes: Vec<u8>, cfg: &InputConfig) -> Result<Photo, ImageProblem> {
    check_size(bytes.len(), cfg)?;
    let Some(format) = sniff(&bytes) else {
        let hint = if bytes.starts_with(b"GIF8") {
            " (it is a GIF)"
        } else if bytes.starts_with(b"RIFF") {
            " (it is a WebP or other RIFF file)"
        } else if bytes.starts_with(b"%PDF") {
            " (it is a PDF)"
        } else {
            ""
        };
        return Err(ImageProblem::NotAnImage(hint.to_owned()));
    };
    // The header first: dimensions decide before any pixel buffer exists.
    let mut header = ImageReader::with_format(Cursor::new(&bytes), format);
    header.limits(limits(cfg));
    let (width, height) = header
        .into_dimensions()
        .map_err(|e| too_big_or_corrupt(&e, cfg))?;
    if u64::from(width) * u64::from(height) > cfg.max_pixels
        || width > cfg.max_dimension
        || height > cfg.max_dimension
    {
        return Err(ImageProblem::TooManyPixels {
            width,
            height,
            max_pixels: cfg.max_pixels,
            max_dimension: cfg.max_dimension,
        });
    }
    if width == 0 || height == 0 {
        return Err(ImageProblem::Corrupt("no pixels".to_owned()));
    }
    let mut reader = ImageReader::with_format(Cursor::new(&bytes), format);
    reader.limits(limits(cfg));
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| too_big_or_corrupt(&e, cfg))?;
    // A missing or unreadable EXIF block is no reason to refuse the photo.
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| too_big_or_corrupt(&e, cfg))?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Ok(Photo {
        bytes,
        format,
        image,
    })
}

fn too_big_or_corrupt(e: &image::ImageError, cfg: &InputConfig) -> ImageProblem {
    match e {
        image::ImageError::Limits(_) => ImageProblem::TooManyPixels {
            width: 0,
            height: 0,
            max_pixels: cfg.max_pixels,
            max_dimension: cfg.max_dimension,
        },
        other => {
            // The decoder's text says what is wrong; bounded, no data from the file.
            let text: String = other.to_string().chars().take(120).collect();
            ImageProblem::Corrupt(text)
        }
    }
}

/// The photo as the vendor may take it: the original when its base64 is within
/// `max_base64` bytes, else re-encoded as JPEG and downscaled until it is (blocking).
pub fn fit_for_vendor(photo: &Photo, max_base64: usize) -> Result<Vec<u8>, ImageProblem> {
    let b64_len = |n: usize| n.div_ceil(3) * 4;
    if b64_len(photo.bytes.len()) <= max_base64 {
        return Ok(photo.bytes.clone());
    }
    let max_bytes = max_base64 / 4 * 3;
    let mut image = photo.image.to_rgb8();
    for quality in [85u8, 80, 75, 70, 65, 60, 55, 50] {
        let mut out = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
        image
            .write_with_encoder(encoder)
            .map_err(|e| ImageProblem::Corrupt(e.to_string()))?;
        if out.len() <= max_bytes {
            return Ok(out);
        }
        // Shrink by the area ratio, a little more, and try again.
        #[expect(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "pixel counts far below 2^24; the factor is in (0, 1)"
        )]
        let (w, h) = {
            let factor = ((max_bytes as f64 / out.len() as f64).sqrt() * 0.9).min(0.9);
            (
                ((f64::from(image.width()) * factor) as u32).max(16),
                ((f64::from(image.height()) * factor) as u32).max(16),
            )
        };
        image = image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle);
    }
    Err(ImageProblem::Corrupt(
        "could not be made small enough for the vendor".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("encode");
        out
    }

    #[test]
    fn a_png_decodes() {
        let p = decode(png(40, 20), &InputConfig::default()).expect("decodes");
        assert_eq!((p.image.width(), p.image.height()), (40, 20));
        assert_eq!(p.format, ImageFormat::Png);
    }

    #[test]
    fn non_images_corrupt_images_and_oversized_ones_are_refused() {
        let cfg = InputConfig::default();
        assert_eq!(decode(Vec::new(), &cfg).err(), Some(ImageProblem::Empty));
        assert!(
            matches!(decode(b"GIF89a....".to_vec(), &cfg), Err(ImageProblem::NotAnImage(h)) if h.contains("GIF"))
        );
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            decode(truncated, &cfg),
            Err(ImageProblem::Corrupt(_))
        ));
        let mut header_only = b"\xFF\xD8\xFF\xE0".to_vec();
        header_only.extend_from_slice(&[0; 16]);
        assert!(matches!(
            decode(header_only, &cfg),
            Err(ImageProblem::Corrupt(_))
        ));
        let small = InputConfig {
            max_image_bytes: 100,
            ..InputConfig::default()
        };
        let err = decode(png(64, 64), &small).expect_err("too large");
        assert!(err.to_string().contains("at most 100 bytes"), "{err}");
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        out.extend_from_slice(&typed);
        out.extend_from_slice(&crc32(&typed).to_be_bytes());
    }

    /// A PNG whose header claims `w`×`h` 8-bit grey pixels, followed by a zlib stream of
    /// zeros (stored blocks would be large; a few bytes of deflate expand hugely).
    fn bomb(w: u32, h: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        chunk(&mut out, *b"IHDR", &ihdr);
        // zlib header + a fixed-Huffman block of repeated zeros, not terminated: the
        // decoder would have to inflate for ever to fill the claimed size.
        chunk(
            &mut out,
            *b"IDAT",
            &[0x78, 0x9C, 0x63, 0x60, 0x18, 0x05, 0xA3, 0x60, 0x14],
        );
        chunk(&mut out, *b"IEND", &[]);
        out
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        // 30000×30000: 900 Mpx in a few dozen bytes.
        let err = decode(bomb(30_000, 30_000), &InputConfig::default()).expect_err("bomb");
        assert!(matches!(err, ImageProblem::TooManyPixels { .. }), "{err}");
        assert!(err.to_string().contains("at most 50000000 pixels"), "{err}");
        // Within the pixel count but beyond the decoder's memory: refused by the limits.
        let tight = InputConfig {
            max_decode_bytes: 1024 * 1024,
            ..InputConfig::default()
        };
        let err = decode(bomb(4000, 4000), &tight).expect_err("over the allocation limit");
        assert!(
            matches!(
                err,
                ImageProblem::TooManyPixels { .. } | ImageProblem::Corrupt(_)
            ),
            "{err}"
        );
        // Within every limit: the truncated stream is corrupt, not a panic.
        let err = decode(bomb(2000, 2000), &InputConfig::default()).expect_err("truncated");
        assert!(matches!(err, ImageProblem::Corrupt(_)), "{err}");
    }

    #[test]
    fn a_photo_too_big_for_the_vendor_is_reencoded_to_fit() {
        let photo = decode(png(1200, 900), &InputConfig::default()).expect("decodes");
        let limit = 200_000;
        assert!(
            photo.bytes.len() * 4 / 3 > limit,
            "the test photo must not fit as is"
        );
        let fitted = fit_for_vendor(&photo, limit).expect("fits");
        assert!(fitted.len().div_ceil(3) * 4 <= limit);
        assert_eq!(sniff(&fitted), Some(ImageFormat::Jpeg));
        let small = decode(png(20, 20), &InputConfig::default()).expect("decodes");
        assert_eq!(fit_for_vendor(&small, limit).expect("as is"), small.bytes);
    }
}
