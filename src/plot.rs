//! `swarmlab plot`: figures (SVG, PDF and PNG) from the CSV files of an
//! output directory, without rerunning anything.
//!
//! DIR may be the output of `run` (timeseries.csv, peers.csv), `run --reps`
//! (replications.csv and `seed<N>/` subdirectories), `compare` (compare.csv and
//! one subdirectory per variant, each possibly with `seed<N>/` below it) or
//! `sweep` (sweep.csv); whatever is there is drawn and the rest is skipped
//! with a note. Figures, each as `.svg` and `.pdf` (vector, text as text,
//! the bundled DejaVu Sans embedded in the PDF) and `.png` (300 dpi by
//! default, `pHYs` set), sized for a two-column paper: 7 in wide (sweep
//! figures: one column, 3.5 in), text at 8.5-10 pt (`src/figures/export.rs`):
//!
//! - `timeseries`: continuity, online and playing peers over time, one line per variant;
//! - `cdf`: CDFs of startup delay and playback lag over all peers, one line per variant;
//! - `metrics`: main metrics per variant with 95% CIs (replications.csv) or
//!   single-run values (compare.csv);
//! - `sweep-<param>-<metric>`: a metric against a swept parameter with 95% CIs,
//!   one line per value of the other swept parameters (protocol, variant, ...).
//!
//! Exit status: 0 when figures were written, 2 when DIR is missing or holds no
//! recognised CSV (or a malformed one), 1 when a figure cannot be written.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "figures/mod.rs"]
mod figures;

pub(crate) use figures::{
    Figure,
    draw::{ScaleFig, ScalePoint},
    export::Formats,
    register_font, save,
};

/// Arguments of `swarmlab plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output directory of `run`, `run --reps`, `compare` or `sweep`.
    pub dir: PathBuf,
    /// Where to write the figures [default: DIR/figures].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Resolution of the PNG files, dots per inch (72-1200).
    #[arg(long, default_value_t = figures::export::DEFAULT_DPI, value_parser = clap::value_parser!(u32).range(72..=1200))]
    pub dpi: u32,
    /// Formats to write (comma-separated): svg, pdf, png.
    #[arg(long, value_delimiter = ',', default_values_t = ["svg".to_string(), "pdf".to_string(), "png".to_string()])]
    pub formats: Vec<String>,
}

/// The formats asked for, or the error for an unknown one.
fn formats(a: &Args) -> Result<Formats, String> {
    let mut f = Formats { svg: false, pdf: false, png_dpi: None };
    for x in &a.formats {
        match x.trim() {
            "svg" => f.svg = true,
            "pdf" => f.pdf = true,
            "png" => f.png_dpi = Some(a.dpi),
            other => return Err(format!("--formats: unknown format `{other}`: expected svg, pdf or png")),
        }
    }
    Ok(f)
}

pub fn main(args: Args) -> ExitCode {
    let formats = match formats(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = &args.dir;
    if !dir.exists() {
        eprintln!("error: {}: no such directory", dir.display());
        return ExitCode::from(2);
    }
    if !dir.is_dir() {
        eprintln!("error: {}: not a directory (give the output directory of run, compare or sweep)", dir.display());
        return ExitCode::from(2);
    }
    let found = match figures::data::load(dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if found.is_empty() {
        eprintln!(
            "error: {}: no swarmlab output to plot: expected timeseries.csv, peers.csv, compare.csv, \
             replications.csv or sweep.csv in it (or in its variant and seed<N> subdirectories)",
            dir.display()
        );
        return ExitCode::from(2);
    }
    if let Err(e) = figures::register_font() {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let out = args.out.clone().unwrap_or_else(|| dir.join("figures"));
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let (planned, notes) = figures::plan(&found);
    if planned.is_empty() {
        for n in &notes {
            eprintln!("{n}");
        }
        eprintln!("error: {}: found CSV files but nothing to plot", dir.display());
        return ExitCode::from(2);
    }
    let mut written = 0;
    for p in &planned {
        match figures::save(&p.figure, &out, &p.stem, formats) {
            Ok(files) => {
                println!(
                    "{:<10} {} -> {}.{{{}}}",
                    figure_kind(&p.stem),
                    p.what,
                    out.join(&p.stem).display(),
                    formats.extensions()
                );
                written += files.len();
            }
            Err(e) => {
                eprintln!("error: {}: {e}", p.stem);
                return ExitCode::from(1);
            }
        }
    }
    for n in &notes {
        println!("{n}");
    }
    println!("wrote {written} files in {}", out.display());
    ExitCode::SUCCESS
}

fn figure_kind(stem: &str) -> &str {
    if stem.starts_with("sweep-") { "sweep" } else { stem }
}
