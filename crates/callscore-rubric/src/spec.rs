//! The rubric file as written: serde shapes of the TOML, with spans kept for error messages.
//! [`crate::rubric`] turns these into a checked, compiled [`crate::Rubric`].

use serde::Deserialize;
use toml::{Spanned, Value};

/// Keys of the top-level table.
pub(crate) const RUBRIC_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "version",
    "pass_mark",
    "language",
    "min_judged",
    "sections",
    "criteria",
    "redaction",
];
/// Keys of a `[[sections]]` table.
pub(crate) const SECTION_FIELDS: &[&str] = &["id", "name", "description"];
/// Keys of a `[[criteria]]` table common to every check.
pub(crate) const CRITERION_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "section",
    "weight",
    "critical",
    "flag",
    "speaker",
    "within",
    "last",
    "any",
    "all",
    "none",
    "unless",
    "check",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRubric {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub version: Option<Spanned<u32>>,
    pub pass_mark: Option<Spanned<f64>>,
    /// The calls' language, which picks the detectors' cue words ("en" by default, or "zh").
    pub language: Option<Spanned<String>>,
    /// Share (0–1) of the rubric's total weight that must be applicable for a verdict.
    pub min_judged: Option<Spanned<f64>>,
    #[serde(default)]
    pub sections: Vec<RawSection>,
    #[serde(default)]
    pub criteria: Vec<RawCriterion>,
    /// Which personal data to redact from transcripts scored with this rubric. Read and
    /// checked by callscore-redact (`RedactionConfig::from_toml` on the rubric's text); the
    /// rubric itself only lets the table through.
    #[allow(dead_code)]
    pub redaction: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSection {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCriterion {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub section: Option<Spanned<String>>,
    pub weight: Option<Spanned<f64>>,
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub flag: bool,
    pub speaker: Option<Spanned<String>>,
    pub within: Option<Spanned<String>>,
    pub last: Option<Spanned<String>>,
    pub any: Option<Spanned<Vec<Spanned<String>>>>,
    pub all: Option<Spanned<Vec<Spanned<String>>>>,
    pub none: Option<Spanned<Vec<Spanned<String>>>>,
    pub unless: Option<Spanned<Vec<Spanned<String>>>>,
    pub check: Option<Spanned<String>>,
    // Detector parameters (every name in `PARAM_NAMES`); which apply depends on `check`.
    pub min: Option<Spanned<Value>>,
    pub max: Option<Spanned<Value>>,
    pub open_min: Option<Spanned<Value>>,
    pub max_count: Option<Spanned<Value>>,
    pub min_overlap: Option<Spanned<Value>>,
    pub company: Option<Spanned<Value>>,
    pub unknown_name: Option<Spanned<Value>>,
}

/// Every parameter name any detector takes: the criterion fields beyond the common ones.
pub(crate) const PARAM_NAMES: &[&str] = &[
    "min",
    "max",
    "open_min",
    "max_count",
    "min_overlap",
    "company",
    "unknown_name",
];

impl RawCriterion {
    /// The detector parameters that were given, by name, in a fixed order.
    pub fn params(&mut self) -> Vec<(&'static str, Spanned<Value>)> {
        let slots: [(&'static str, &mut Option<Spanned<Value>>); 7] = [
            ("min", &mut self.min),
            ("max", &mut self.max),
            ("open_min", &mut self.open_min),
            ("max_count", &mut self.max_count),
            ("min_overlap", &mut self.min_overlap),
            ("company", &mut self.company),
            ("unknown_name", &mut self.unknown_name),
        ];
        slots
            .into_iter()
            .filter_map(|(name, slot)| slot.take().map(|v| (name, v)))
            .collect()
    }
}
