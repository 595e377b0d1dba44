//! Temporary constant-latency stand-in until latency.rs lands.
use protocols::Time;
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LatencySpec {
    Constant { ms: f64 },
}
impl Default for LatencySpec {
    fn default() -> Self {
        LatencySpec::Constant { ms: 50.0 }
    }
}
impl LatencySpec {
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}
pub struct LatencyModel(Time);
impl LatencyModel {
    pub fn build(spec: &LatencySpec, _seed: u64) -> LatencyModel {
        let LatencySpec::Constant { ms } = spec;
        LatencyModel(Time::from_secs_f64(ms / 1000.0))
    }
    pub fn place(&mut self, _id: u32) {}
    pub fn latency(&self, a: u32, b: u32) -> Time {
        if a == b { Time::ZERO } else { self.0 }
    }
    pub fn min_latency(&self) -> Time {
        self.0
    }
}
