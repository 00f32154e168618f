//! What ships with the adapter (`verifier.json`): its checksums, the
//! prefilter cosine it was calibrated under, the calibration table (wanted
//! precision → score cut-off, measured on the validation split) and
//! reference scores for a few fixed pairs.

use serde::Deserialize;

/// The format this gateway reads.
pub const FORMAT: &str = "g-aigateway-verifier-1";

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub base_sha256: String,
    pub adapter_sha256: String,
    /// Candidates need at least this cosine to be verified at all.
    pub prefilter: f32,
    pub calibration: Vec<Point>,
    #[serde(default)]
    pub reference: Vec<Reference>,
}

/// One row of the calibration table.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Point {
    pub min_precision: f64,
    pub cutoff: f32,
    #[serde(default)]
    pub val_precision: f64,
    #[serde(default)]
    pub val_recall: f64,
}

/// A fixed pair and the score training computed for it.
#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    pub a: String,
    pub b: String,
    pub score: f32,
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mut manifest: Self =
            serde_json::from_slice(bytes).map_err(|e| format!("verifier.json: {e}"))?;
        if manifest.format != FORMAT {
            return Err(format!(
                "verifier.json: format {:?}, expected {FORMAT:?}",
                manifest.format
            ));
        }
        let bad =
            |p: &Point| !(0.0..=1.0).contains(&p.min_precision) || !(0.0..=1.0).contains(&p.cutoff);
        if manifest.calibration.is_empty() || manifest.calibration.iter().any(bad) {
            return Err("verifier.json: the calibration table is empty or out of range".into());
        }
        manifest
            .calibration
            .sort_by(|a, b| a.min_precision.total_cmp(&b.min_precision));
        Ok(manifest)
    }

    /// The score cut-off for a wanted precision: the row of the lowest
    /// tabulated precision at or above it (the strictest row when it asks
    /// more than the table holds).
    pub fn cutoff(&self, min_precision: f64) -> f32 {
        self.calibration
            .iter()
            .find(|p| p.min_precision >= min_precision - 1e-9)
            .or(self.calibration.last())
            .map_or(1.0, |p| p.cutoff)
    }

    /// The highest precision the table can promise.
    pub fn max_precision(&self) -> f64 {
        self.calibration.last().map_or(0.0, |p| p.min_precision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let json = r#"{"format":"g-aigateway-verifier-1","base_sha256":"b","adapter_sha256":"a",
            "prefilter":0.8,"calibration":[
              {"min_precision":0.95,"cutoff":0.7},{"min_precision":0.9,"cutoff":0.5},
              {"min_precision":0.99,"cutoff":0.93}]}"#;
        Manifest::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn a_wanted_precision_maps_to_the_row_at_or_above_it() {
        let m = manifest();
        assert_eq!(m.cutoff(0.9), 0.5);
        assert_eq!(m.cutoff(0.92), 0.7);
        assert_eq!(m.cutoff(0.95), 0.7);
        assert_eq!(m.cutoff(0.5), 0.5);
        assert_eq!(m.cutoff(0.999), 0.93, "above the table: the strictest row");
        assert_eq!(m.max_precision(), 0.99);
    }

    #[test]
    fn a_wrong_format_or_a_bad_table_is_refused() {
        for json in [
            r#"{"format":"other","base_sha256":"","adapter_sha256":"","prefilter":0.8,"calibration":[{"min_precision":0.9,"cutoff":0.5}]}"#,
            r#"{"format":"g-aigateway-verifier-1","base_sha256":"","adapter_sha256":"","prefilter":0.8,"calibration":[]}"#,
            r#"{"format":"g-aigateway-verifier-1","base_sha256":"","adapter_sha256":"","prefilter":0.8,"calibration":[{"min_precision":1.5,"cutoff":0.5}]}"#,
            "not json",
        ] {
            assert!(Manifest::parse(json.as_bytes()).is_err(), "{json}");
        }
    }
}
