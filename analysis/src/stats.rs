//! Statistics over replications: mean, standard deviation and the 95%
//! confidence interval of the mean from Student's t distribution.
//!
//! `ci95 = mean ± t(0.975, n - 1) x sd / sqrt(n)`, with `sd` the sample standard
//! deviation (n - 1 denominator). The t quantiles are tabulated for 1 to 30
//! degrees of freedom and approached by the Cornish-Fisher expansion beyond.

/// Two-sided 95% quantiles t(0.975, df) for df = 1..=30.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// t(0.975, df); `None` for df = 0.
pub fn t975(df: usize) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T975[df - 1]),
        _ => {
            // Cornish-Fisher expansion around the normal quantile z = 1.959964.
            let z: f64 = 1.959_964;
            let n = df as f64;
            // Powers by multiplication: exact IEEE operations, unlike `powi`.
            let (z3, z5) = (z * z * z, z * z * z * z * z);
            let g1 = (z3 + z) / 4.0;
            let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
            Some(z + g1 / n + g2 / (n * n))
        }
    }
}

/// Summary of one metric over replications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation; `None` for a single value.
    pub sd: Option<f64>,
    /// Half-width of the 95% confidence interval; `None` for a single value.
    pub ci95: Option<f64>,
}

/// Summarizes the defined values (`None`s are skipped); `None` if there are none.
pub fn summarize(values: &[Option<f64>]) -> Option<Summary> {
    let xs: Vec<f64> = values.iter().flatten().copied().collect();
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let sd = (n > 1).then(|| (xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt());
    let ci95 = sd.zip(t975(n - 1)).map(|(s, t)| t * s / (n as f64).sqrt());
    Some(Summary { n, mean, sd, ci95 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_hand_computed_interval() {
        // 1..=5: mean 3, sd sqrt(2.5), t(0.975, 4) = 2.776.
        let s = summarize(&[Some(1.0), Some(2.0), None, Some(3.0), Some(4.0), Some(5.0)]).unwrap();
        assert_eq!(s.n, 5);
        assert_eq!(s.mean, 3.0);
        assert!((s.sd.unwrap() - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((s.ci95.unwrap() - 2.776 * 2.5f64.sqrt() / 5f64.sqrt()).abs() < 1e-12);
        let one = summarize(&[Some(7.0)]).unwrap();
        assert_eq!((one.mean, one.sd, one.ci95), (7.0, None, None));
        assert_eq!(summarize(&[None]), None);
    }

    #[test]
    fn t_quantiles_decrease_towards_the_normal_one() {
        assert_eq!(t975(0), None);
        assert_eq!(t975(1), Some(12.706));
        let (t30, t31, t1000) = (t975(30).unwrap(), t975(31).unwrap(), t975(1000).unwrap());
        assert!(t31 < t30 && (t31 - 2.040).abs() < 0.002, "{t31}");
        assert!((t1000 - 1.962).abs() < 0.001, "{t1000}");
    }
}
