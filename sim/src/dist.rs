//! Session-length distributions, sampled by inversion from a seeded RNG.
//!
//! Each is parameterized by its mean and a shape, so a scenario can swap the
//! distribution without changing the offered load (mean population =
//! arrival rate x mean session):
//!
//! | distribution | shape parameter | parameterization for mean `m` |
//! |---|---|---|
//! | exponential | (none) | rate 1 / m |
//! | Weibull | k > 0 | scale `m / Gamma(1 + 1/k)`; k < 1 is heavy-tailed |
//! | log-normal | sigma > 0 | `mu = ln m - sigma^2 / 2` |
//! | Pareto | alpha > 1 | `x_m = m (alpha - 1) / alpha` |
//!
//! Measurement sources: PPLive per-channel sessions are roughly geometric
//! (exponential) (Vu et al.); live-streaming sessions are heavy-tailed
//! (Sripanidkulchai, Maggs, Zhang, IMC 2004); the StreamAid simulator uses
//! log-normal sessions and Pareto inter-arrivals with x_m = 1.55, alpha = 2.52
//! (a configuration, not a measurement).

use rand::{Rng, RngExt};

/// A session-length distribution (seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Session {
    Exponential { mean: f64 },
    Weibull { shape: f64, scale: f64 },
    LogNormal { mu: f64, sigma: f64 },
    Pareto { alpha: f64, x_m: f64 },
}

/// ln Gamma(x) for x > 0 (Lanczos approximation, g = 7, n = 9; ~1e-15 relative).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Gamma(x) Gamma(1 - x) = pi / sin(pi x).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

impl Session {
    /// The distribution named `name` with mean `mean` and shape `shape`.
    pub fn with_mean(name: SessionKind, mean: f64, shape: f64) -> Session {
        match name {
            SessionKind::Exponential => Session::Exponential { mean },
            SessionKind::Weibull => Session::Weibull { shape, scale: mean / ln_gamma(1.0 + 1.0 / shape).exp() },
            SessionKind::LogNormal => Session::LogNormal { mu: mean.ln() - shape * shape / 2.0, sigma: shape },
            SessionKind::Pareto => Session::Pareto { alpha: shape, x_m: mean * (shape - 1.0) / shape },
        }
    }

    /// One draw (seconds).
    pub fn sample(&self, rng: &mut impl Rng) -> f64 {
        let u: f64 = rng.random::<f64>();
        match *self {
            Session::Exponential { mean } => -mean * (1.0 - u).ln(),
            Session::Weibull { shape, scale } => scale * (-(1.0 - u).ln()).powf(1.0 / shape),
            Session::LogNormal { mu, sigma } => {
                // Box-Muller: one standard normal from two uniforms.
                let v: f64 = rng.random::<f64>();
                let z = (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                (mu + sigma * z).exp()
            }
            Session::Pareto { alpha, x_m } => x_m * (1.0 - u).powf(-1.0 / alpha),
        }
    }

    /// The distribution's median (for tests and documentation).
    pub fn median(&self) -> f64 {
        match *self {
            Session::Exponential { mean } => mean * std::f64::consts::LN_2,
            Session::Weibull { shape, scale } => scale * std::f64::consts::LN_2.powf(1.0 / shape),
            Session::LogNormal { mu, .. } => mu.exp(),
            Session::Pareto { alpha, x_m } => x_m * 2f64.powf(1.0 / alpha),
        }
    }
}

/// Session distributions a scenario can name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKind {
    #[default]
    Exponential,
    Weibull,
    LogNormal,
    Pareto,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn ln_gamma_matches_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        assert!((ln_gamma(3.0) - 2f64.ln()).abs() < 1e-12);
    }

    /// Sample mean and median within tolerance of the definitions, fixed seed.
    #[test]
    fn samples_match_mean_and_median() {
        let cases = [
            (SessionKind::Exponential, 1.0, 0.02),
            (SessionKind::Weibull, 0.7, 0.03),
            (SessionKind::Weibull, 2.0, 0.02),
            (SessionKind::LogNormal, 1.0, 0.03),
            (SessionKind::Pareto, 3.0, 0.03),
        ];
        for (kind, shape, tol) in cases {
            let d = Session::with_mean(kind, 100.0, shape);
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let mut xs: Vec<f64> = (0..200_000).map(|_| d.sample(&mut rng)).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            xs.sort_by(f64::total_cmp);
            let median = xs[xs.len() / 2];
            assert!((mean - 100.0).abs() < 100.0 * tol, "{kind:?} k={shape}: mean {mean}");
            let m = d.median();
            assert!((median - m).abs() < m * 0.02, "{kind:?} k={shape}: median {median} vs {m}");
            assert!(xs[0] > 0.0, "{kind:?}: non-positive session");
        }
    }
}
