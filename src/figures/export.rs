//! Writing a drawn figure as SVG, PDF and PNG.
//!
//! Figures are drawn once, by plotters, into an SVG string on a canvas of
//! [`UNITS_PER_IN`] drawing units per inch (one unit is half a point), sized
//! for one column ([`ONE_COLUMN`] wide) or two ([`TWO_COLUMN`]). From that SVG:
//!
//! - `stem.svg`: the SVG itself with its physical size (`width="7in"`) and the
//!   bundled font named first (`font-family="DejaVu Sans, sans-serif"`); text
//!   stays text (`<text>` elements).
//! - `stem.pdf`: vector PDF by svg2pdf, text kept as text in an embedded
//!   subset of the bundled DejaVu Sans (no system fonts are read), page size
//!   the figure's physical size.
//! - `stem.png`: rendered by resvg at `dpi` (300 by default: a 7-inch figure
//!   is 2,100 pixels wide), with a `pHYs` chunk recording that resolution so
//!   that word processors place it at its physical size.
//!
//! Text in the PNG is shaped by resvg (glyph advances, bearings and kerning
//! from the font), not by plotters' bitmap backend, whose glyph placement
//! drops each glyph's left side bearing and truncates pen positions to whole
//! pixels (plotters 0.3.7, `style/font/ab_glyph.rs`): that is what printed
//! "do net" and "con tinuity" in the earlier PNGs.
//!
//! Everything here is deterministic: the same SVG gives byte-identical PDF
//! and PNG files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use resvg::{tiny_skia, usvg};

/// Drawing units per inch of the SVG canvas (1 unit = 0.5 pt).
pub const UNITS_PER_IN: f64 = 144.0;
/// Width of a one-column figure, inches (two-column paper formats: 3.3-3.5 in).
pub const ONE_COLUMN: f64 = 3.5;
/// Width of a figure across both columns, inches (7.0-7.16 in).
pub const TWO_COLUMN: f64 = 7.0;
/// Default PNG resolution, dots per inch (print resolution).
pub const DEFAULT_DPI: u32 = 300;

/// Text sizes, in drawing units (twice the size in points), shared by every figure.
pub mod text {
    /// Figure title: 10 pt.
    pub const TITLE: u32 = 20;
    /// Subtitle line under the title: 8.5 pt.
    pub const SUBTITLE: u32 = 17;
    /// Axis descriptions and panel captions: 9 pt.
    pub const AXIS: u32 = 18;
    /// Tick labels and legend entries: 8.5 pt.
    pub const TICK: u32 = 17;
}

/// Physical size of a figure, inches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Size {
    pub width_in: f64,
    pub height_in: f64,
}

impl Size {
    /// The canvas in drawing units.
    pub fn canvas(self) -> (u32, u32) {
        ((self.width_in * UNITS_PER_IN).round() as u32, (self.height_in * UNITS_PER_IN).round() as u32)
    }
}

/// The bundled font, DejaVu Sans (Bitstream Vera licence, `assets/fonts/LICENSE-DejaVu.txt`).
pub static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// Its family name.
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// Gives plotters' SVG its physical size and names the bundled font first.
pub fn finish_svg(svg: &str, size: Size) -> String {
    let (w, h) = size.canvas();
    let from = format!("<svg width=\"{w}\" height=\"{h}\"");
    let to = format!("<svg width=\"{}in\" height=\"{}in\"", size.width_in, size.height_in);
    svg.replacen(&from, &to, 1)
        .replace("font-family=\"sans-serif\"", &format!("font-family=\"{FONT_FAMILY}, sans-serif\""))
}

fn options() -> usvg::Options<'static> {
    let mut db = usvg::fontdb::Database::new();
    db.load_font_data(FONT.to_vec());
    db.set_sans_serif_family(FONT_FAMILY);
    let mut opt = usvg::Options { font_family: FONT_FAMILY.to_string(), ..usvg::Options::default() };
    opt.fontdb = Arc::new(db);
    opt
}

/// Converts a finished SVG (see [`finish_svg`]) to PDF: vector, text as text
/// in an embedded font subset, page of the SVG's physical size.
pub fn pdf(svg: &str) -> Result<Vec<u8>, String> {
    let tree = usvg::Tree::from_str(svg, &options()).map_err(|e| format!("SVG not readable: {e}"))?;
    // usvg measures in CSS pixels (96 per inch): a page at 96 dpi keeps the inches.
    svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), svg2pdf::PageOptions { dpi: 96.0 })
        .map(|pdf| canonical_pdf(&pdf))
        .map_err(|e| format!("PDF conversion failed: {e:?}"))
}

/// Puts the entries of PDF dictionaries written one per line as `/Name N 0 R`
/// (resource dictionaries: svg2pdf fills them from hash maps, in an order
/// that changes from run to run) in sorted order. Dictionary order has no
/// meaning in PDF, and a run of lines keeps its length, so every object
/// offset (the xref table) stays valid. Stream data is left alone.
fn canonical_pdf(pdf: &[u8]) -> Vec<u8> {
    fn is_ref_entry(line: &[u8]) -> bool {
        let t = line.trim_ascii_start();
        let Some(rest) = t.strip_prefix(b"/") else { return false };
        let mut parts = rest.split(|&b| b == b' ');
        let name_ok = parts.next().is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_alphanumeric));
        let num_ok = parts.next().is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit));
        name_ok && num_ok && parts.next() == Some(b"0") && parts.next() == Some(b"R") && parts.next().is_none()
    }
    let lines: Vec<&[u8]> = pdf.split(|&b| b == b'\n').collect();
    let mut out: Vec<&[u8]> = Vec::with_capacity(lines.len());
    let mut in_stream = false;
    let mut run: Vec<&[u8]> = Vec::new();
    for line in lines {
        if !in_stream && is_ref_entry(line) {
            run.push(line);
            continue;
        }
        run.sort();
        out.append(&mut run);
        if !in_stream && line == b"stream" {
            in_stream = true;
        } else if in_stream && line.ends_with(b"endstream") {
            in_stream = false;
        }
        out.push(line);
    }
    run.sort();
    out.append(&mut run);
    out.join(&b'\n')
}

/// Renders a finished SVG to PNG at `dpi` (white background, `pHYs` chunk).
pub fn png(svg: &str, dpi: u32) -> Result<Vec<u8>, String> {
    let tree = usvg::Tree::from_str(svg, &options()).map_err(|e| format!("SVG not readable: {e}"))?;
    let scale = dpi as f32 / 96.0;
    let size = tree.size();
    let (w, h) = ((size.width() * scale).round() as u32, (size.height() * scale).round() as u32);
    let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or_else(|| format!("cannot allocate a {w} x {h} image"))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    let bytes = pixmap.encode_png().map_err(|e| format!("PNG encoding failed: {e}"))?;
    Ok(with_phys(&bytes, dpi))
}

/// CRC-32 (ISO-HDLC, the PNG chunk checksum).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Inserts a `pHYs` chunk (pixels per metre, both axes) after the IHDR chunk
/// of a PNG; returns the input unchanged if it has no IHDR where PNG puts it.
pub fn with_phys(png: &[u8], dpi: u32) -> Vec<u8> {
    // Signature (8 bytes), then IHDR: length 13, type, data, CRC = 25 bytes.
    const IHDR_END: usize = 8 + 25;
    if png.len() < IHDR_END || &png[12..16] != b"IHDR" {
        return png.to_vec();
    }
    let ppm = (f64::from(dpi) / 0.0254).round() as u32;
    let mut chunk = Vec::with_capacity(21);
    chunk.extend_from_slice(b"pHYs");
    chunk.extend_from_slice(&ppm.to_be_bytes());
    chunk.extend_from_slice(&ppm.to_be_bytes());
    chunk.push(1); // unit: metre
    let mut out = Vec::with_capacity(png.len() + 21);
    out.extend_from_slice(&png[..IHDR_END]);
    out.extend_from_slice(&9u32.to_be_bytes());
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    out.extend_from_slice(&png[IHDR_END..]);
    out
}

/// Which files to write for each figure.
#[derive(Clone, Copy, Debug)]
pub struct Formats {
    pub svg: bool,
    pub pdf: bool,
    /// PNG resolution, or no PNG.
    pub png_dpi: Option<u32>,
}

impl Default for Formats {
    fn default() -> Self {
        Formats { svg: true, pdf: true, png_dpi: Some(DEFAULT_DPI) }
    }
}

impl Formats {
    /// The extensions written, e.g. `svg,pdf,png`.
    pub fn extensions(&self) -> String {
        let mut v = Vec::new();
        if self.svg {
            v.push("svg");
        }
        if self.pdf {
            v.push("pdf");
        }
        if self.png_dpi.is_some() {
            v.push("png");
        }
        v.join(",")
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".pending");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes `dir/stem.{svg,pdf,png}` (as asked by `formats`) from plotters'
/// SVG of a figure of physical size `size`; returns the paths written.
pub fn write(svg: &str, size: Size, dir: &Path, stem: &str, formats: Formats) -> Result<Vec<PathBuf>, String> {
    let svg = finish_svg(svg, size);
    let mut written = Vec::new();
    if formats.svg {
        let p = dir.join(format!("{stem}.svg"));
        write_atomic(&p, svg.as_bytes())?;
        written.push(p);
    }
    if formats.pdf {
        let p = dir.join(format!("{stem}.pdf"));
        write_atomic(&p, &pdf(&svg)?)?;
        written.push(p);
    }
    if let Some(dpi) = formats.png_dpi {
        let p = dir.join(format!("{stem}.png"));
        write_atomic(&p, &png(&svg, dpi)?)?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_png_reference_value() {
        // The CRC of the IEND chunk type, present in every PNG.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn pdf_resource_entries_are_sorted_in_place() {
        let pdf = b"1 0 obj\n<<\n  /XObject <<\n    /xo2 9 0 R\n    /xo10 8 0 R\n  >>\n>>\nstream\n/b 1 0 R\n/a 2 0 R\nendstream\n";
        let out = canonical_pdf(pdf);
        assert_eq!(out.len(), pdf.len());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("    /xo10 8 0 R\n    /xo2 9 0 R\n"), "{text}");
        assert!(text.contains("stream\n/b 1 0 R\n/a 2 0 R\nendstream"), "stream data untouched: {text}");
    }

    #[test]
    fn svg_gets_physical_size_and_font() {
        let s = Size { width_in: 3.5, height_in: 2.5 };
        let svg =
            "<svg width=\"504\" height=\"360\" viewBox=\"0 0 504 360\"><text font-family=\"sans-serif\">x</text></svg>";
        let out = finish_svg(svg, s);
        assert!(out.starts_with("<svg width=\"3.5in\" height=\"2.5in\" viewBox=\"0 0 504 360\""), "{out}");
        assert!(out.contains("font-family=\"DejaVu Sans, sans-serif\""), "{out}");
    }

    #[test]
    fn png_has_the_asked_resolution() {
        let s = Size { width_in: 1.0, height_in: 0.5 };
        let (w, h) = s.canvas();
        let svg = finish_svg(
            &format!(
                "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\
                 <text x=\"10\" y=\"40\" font-family=\"sans-serif\" font-size=\"20\">Ag</text></svg>"
            ),
            s,
        );
        let png = png(&svg, 200).unwrap();
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 200);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 100);
        assert_eq!(&png[37..41], b"pHYs");
        assert_eq!(u32::from_be_bytes(png[41..45].try_into().unwrap()), 7874); // 200 dpi
        let pdf = pdf(&svg).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.windows(9).any(|w| w == b"FontFile2"), "the PDF embeds the font");
    }
}
