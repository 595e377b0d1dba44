//! The gate's baseline files: per-seed values of the judged metrics.
//!
//! `DIR/<scenario name>.csv`, one row per variant and seed:
//!
//! ```text
//! format,scenario,variant,seed,continuity_mean,startup_delay_p50,lag_p50,control_overhead,duplicate_ratio
//! swarmlab-check/2,ci-mesh-churn,mesh-pull/donet,202,0.9811,3.5,4.25,0.0213,0.0101
//! ```
//!
//! `format` names the version ([`FORMAT`]); an empty cell is a metric the
//! run left undefined (no peer started, say). Values are written with Rust's
//! shortest round-trip formatting, so the file is byte-identical for the
//! same code and seeds. Per-seed values (not means) are what the paired test
//! of [`super::paired`] needs; the first format (`replications.csv`: n, mean
//! and interval per metric) is refused with a message saying how to
//! regenerate.

use std::fmt::Write as _;
use std::path::Path;

/// The format this build reads and writes.
pub const FORMAT: &str = "swarmlab-check/2";

/// One seed's values, one per metric column (`None`: undefined).
pub type Row = (u64, Vec<Option<f64>>);

/// One scenario's per-seed values.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub scenario: String,
    /// Metric columns, in file order.
    pub metrics: Vec<String>,
    /// Variants in file order, each with its seeds in file order and one
    /// value per metric column.
    pub variants: Vec<(String, Vec<Row>)>,
}

impl Table {
    /// The seeds of the first variant (every variant has the same ones, see [`read`]).
    pub fn seeds(&self) -> Vec<u64> {
        self.variants.first().map(|v| v.1.iter().map(|r| r.0).collect()).unwrap_or_default()
    }

    /// `(seed, value)` of `metric` for `variant`; `None` if either is absent.
    pub fn series(&self, variant: &str, metric: &str) -> Option<Vec<(u64, Option<f64>)>> {
        let c = self.metrics.iter().position(|m| m == metric)?;
        let (_, rows) = self.variants.iter().find(|v| v.0 == variant)?;
        Some(rows.iter().map(|(s, vals)| (*s, vals[c])).collect())
    }

    /// The file's bytes.
    pub fn to_csv(&self) -> String {
        let mut s = format!("format,scenario,variant,seed,{}\n", self.metrics.join(","));
        for (variant, rows) in &self.variants {
            for (seed, vals) in rows {
                let _ = write!(s, "{FORMAT},{},{variant},{seed}", self.scenario);
                for v in vals {
                    match v {
                        Some(x) => {
                            let _ = write!(s, ",{x}");
                        }
                        None => s.push(','),
                    }
                }
                s.push('\n');
            }
        }
        s
    }
}

/// Reads a baseline file; errors name the file, the line and the fix
/// (`how_to_create`: the command that regenerates it).
pub fn read(path: &Path, how_to_create: &str) -> Result<Table, String> {
    let file = path.display();
    if !path.is_file() {
        return Err(format!("baseline file {file} does not exist: create it with `{how_to_create}`"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read baseline file {file}: {e}"))?;
    parse(&text, &file.to_string(), how_to_create)
}

/// Parses the text of a baseline file named `file`.
pub fn parse(text: &str, file: &str, how_to_create: &str) -> Result<Table, String> {
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = r.headers().map_err(|e| format!("cannot read baseline file {file}: {e}"))?.clone();
    let has = |h: &str| headers.iter().any(|x| x == h);
    if !has("format") {
        return Err(if has("ci95_low") && has("mean") {
            format!(
                "baseline file {file} is in the old replications.csv format (n, mean and interval per metric), \
                 which has no per-seed values for the gate's paired test: regenerate it with `{how_to_create}`"
            )
        } else {
            format!(
                "baseline file {file} is not a swarmlab check baseline (no `format` column; expected \
                 `format,scenario,variant,seed,<metric>...` with format {FORMAT}): regenerate it with `{how_to_create}`"
            )
        });
    }
    let fixed = ["format", "scenario", "variant", "seed"];
    if headers.len() < 5 || headers.iter().take(4).ne(fixed) {
        return Err(format!(
            "baseline file {file}: the header must start with `{}` and name at least one metric, found `{}`",
            fixed.join(","),
            headers.iter().collect::<Vec<_>>().join(",")
        ));
    }
    let metrics: Vec<String> = headers.iter().skip(4).map(String::from).collect();
    let mut table = Table { scenario: String::new(), metrics, variants: Vec::new() };
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("cannot read baseline file {file}: {e}"))?;
        let field = |c: usize| rec.get(c).unwrap_or("");
        if field(0) != FORMAT {
            return Err(format!(
                "{file}: line {line}: format `{}` is not supported: this build reads {FORMAT}; \
                 regenerate the baseline with `{how_to_create}`",
                field(0)
            ));
        }
        if table.scenario.is_empty() {
            table.scenario = field(1).to_string();
        } else if field(1) != table.scenario {
            return Err(format!(
                "{file}: line {line}: scenario `{}` differs from `{}` on line 2: one scenario per file",
                field(1),
                table.scenario
            ));
        }
        let seed: u64 = field(3)
            .parse()
            .map_err(|_| format!("{file}: line {line}: `seed` is `{}`, not a whole number >= 0", field(3)))?;
        let mut vals = Vec::with_capacity(table.metrics.len());
        for (k, m) in table.metrics.iter().enumerate() {
            vals.push(match field(4 + k) {
                "" => None,
                s => Some(s.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                    format!("{file}: line {line}: `{m}` is `{s}`, not a finite number (or empty for undefined)")
                })?),
            });
        }
        let variant = field(2);
        let rows = match table.variants.iter().position(|v| v.0 == variant) {
            Some(p) => &mut table.variants[p].1,
            None => {
                table.variants.push((variant.to_string(), Vec::new()));
                &mut table.variants.last_mut().expect("just pushed").1
            }
        };
        if rows.iter().any(|r| r.0 == seed) {
            return Err(format!("{file}: line {line}: variant `{variant}` has seed {seed} twice"));
        }
        rows.push((seed, vals));
    }
    if table.variants.is_empty() {
        return Err(format!("baseline file {file} has no rows: regenerate it with `{how_to_create}`"));
    }
    let seeds = table.seeds();
    if let Some((v, _)) = table.variants.iter().find(|(_, rows)| rows.iter().map(|r| r.0).ne(seeds.iter().copied())) {
        return Err(format!(
            "baseline file {file}: variant `{v}` does not have the same seeds, in the same order, as `{}`",
            table.variants[0].0
        ));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOW: &str = "swarmlab check x.toml --baseline b --update";

    fn table() -> Table {
        Table {
            scenario: "s".into(),
            metrics: vec!["continuity_mean".into(), "lag_p50".into()],
            variants: vec![
                ("mesh-pull/donet".into(), vec![(7, vec![Some(0.5), None]), (8, vec![Some(0.25), Some(3.0)])]),
                ("mesh-pull/edf".into(), vec![(7, vec![Some(1.0), Some(2.5)]), (8, vec![Some(0.1), Some(1e-7)])]),
            ],
        }
    }

    #[test]
    fn round_trips_byte_for_byte() {
        let t = table();
        let csv = t.to_csv();
        assert!(csv.starts_with("format,scenario,variant,seed,continuity_mean,lag_p50\n"), "{csv}");
        assert!(csv.contains("swarmlab-check/2,s,mesh-pull/donet,7,0.5,\n"), "{csv}");
        let back = parse(&csv, "f.csv", HOW).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.to_csv(), csv);
        assert_eq!(back.seeds(), [7, 8]);
        assert_eq!(back.series("mesh-pull/edf", "lag_p50").unwrap(), [(7, Some(2.5)), (8, Some(1e-7))]);
        assert!(back.series("mesh-pull/edf", "nope").is_none());
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let err = |text: &str| parse(text, "f.csv", HOW).unwrap_err();
        let old =
            "scenario,variant,protocol,metric,n,mean,sd,ci95_low,ci95_high,unit,seeds\ns,v,p,m,3,1,0,1,1,ratio,1 2 3\n";
        let e = err(old);
        assert!(e.contains("old replications.csv format") && e.contains(HOW), "{e}");
        assert!(err("metric,value\nx,1\n").contains("no `format` column"));
        assert!(err("format,scenario,variant\n").contains("must start with"));
        let e = err("format,scenario,variant,seed,lag_p50\nswarmlab-check/9,s,v,1,2\n");
        assert!(e.contains("line 2") && e.contains("swarmlab-check/9") && e.contains(FORMAT), "{e}");
        let e = err("format,scenario,variant,seed,lag_p50\nswarmlab-check/2,s,v,x,2\n");
        assert!(e.contains("`seed` is `x`"), "{e}");
        let e = err("format,scenario,variant,seed,lag_p50\nswarmlab-check/2,s,v,1,NaN\n");
        assert!(e.contains("`lag_p50` is `NaN`"), "{e}");
        let e = err("format,scenario,variant,seed,lag_p50\nswarmlab-check/2,s,v,1,2\nswarmlab-check/2,s,v,1,3\n");
        assert!(e.contains("seed 1 twice"), "{e}");
        let e = err("format,scenario,variant,seed,lag_p50\nswarmlab-check/2,s,v,1,2\nswarmlab-check/2,s,w,2,3\n");
        assert!(e.contains("same seeds"), "{e}");
        assert!(err("format,scenario,variant,seed,lag_p50\n").contains("no rows"));
        let e = err("format,scenario,variant,seed,lag_p50\nswarmlab-check/2,s,v,1,2\nswarmlab-check/2,t,v,2,3\n");
        assert!(e.contains("one scenario per file"), "{e}");
    }
}
