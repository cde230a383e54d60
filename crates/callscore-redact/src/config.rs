//! What to redact and how: [`RedactionConfig`], readable from a `[redaction]` TOML table that a
//! rubric or a configuration file carries.
//!
//! ```toml
//! [redaction]
//! classes = ["card", "email"]   # class names or groups: card, bank, all (default ["card"])
//! margin_ms = 500               # audio muted this long before and after each redacted span
//! placeholder = "label"         # "label": [card number]; "generic": [redacted]
//! audio = "silence"             # "silence" or "tone" over the redacted spans
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::class::{DataClass, GROUPS};

/// How a redacted span sounds in exported or served audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioStyle {
    /// Digital silence (every sample zero).
    #[default]
    Silence,
    /// A steady 1 kHz tone at -20 dBFS, so a listener hears that something was removed.
    Tone,
}

/// How redacted words read in the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlaceholderStyle {
    /// The class's label: `[card number]`, `[security code]`…
    #[default]
    Label,
    /// One placeholder for every class: `[redacted]`.
    Generic,
}

/// The default audio margin: whisper's word times on telephone audio were measured up to about
/// 0.3 s off the spoken words in the rendered card calls (fixtures/pci), so half a second either
/// side covers them with room to spare.
pub const DEFAULT_MARGIN_MS: u64 = 500;

/// The longest margin a configuration may ask for; more would mute whole turns.
pub const MAX_MARGIN_MS: u64 = 10_000;

/// What to redact and how. `Default` is card data only, a 500 ms margin, label placeholders and
/// silence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionConfig {
    /// The classes to find. Empty: redaction is off.
    pub classes: BTreeSet<DataClass>,
    /// Audio margin before and after every redacted span, in milliseconds.
    pub margin_ms: u64,
    pub placeholder: PlaceholderStyle,
    pub audio: AudioStyle,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        RedactionConfig {
            classes: DataClass::CARD.into_iter().collect(),
            margin_ms: DEFAULT_MARGIN_MS,
            placeholder: PlaceholderStyle::default(),
            audio: AudioStyle::default(),
        }
    }
}

impl RedactionConfig {
    /// Redaction switched off: nothing is detected.
    pub fn off() -> Self {
        RedactionConfig {
            classes: BTreeSet::new(),
            ..Default::default()
        }
    }

    /// The default with every class on.
    pub fn all_classes() -> Self {
        RedactionConfig {
            classes: DataClass::ALL.into_iter().collect(),
            ..Default::default()
        }
    }

    pub fn with_classes(mut self, classes: impl IntoIterator<Item = DataClass>) -> Self {
        self.classes = classes.into_iter().collect();
        self
    }

    pub fn enabled(&self, class: DataClass) -> bool {
        self.classes.contains(&class)
    }

    /// The placeholder text for a class in this configuration's style.
    pub fn placeholder_for(&self, class: DataClass) -> &'static str {
        match self.placeholder {
            PlaceholderStyle::Label => class.label(),
            PlaceholderStyle::Generic => crate::class::GENERIC_PLACEHOLDER,
        }
    }

    /// Reads the `[redaction]` table of a TOML document (a rubric or a configuration file;
    /// other top-level keys are left to their owner). No table: the default. `origin` names
    /// the file in errors.
    pub fn from_toml(source: &str, origin: &str) -> Result<RedactionConfig, ConfigError> {
        Ok(Self::section_from_toml(source, origin)?.unwrap_or_default())
    }

    /// Like [`RedactionConfig::from_toml`], but says whether the document had a `[redaction]`
    /// table at all, so a caller can let one file's table override another's.
    pub fn section_from_toml(
        source: &str,
        origin: &str,
    ) -> Result<Option<RedactionConfig>, ConfigError> {
        let doc: RawDocument = toml::from_str(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            let hint = unknown_key_hint(&message);
            ConfigError::at(origin, source, span, message, hint)
        })?;
        let Some(raw) = doc.redaction else {
            return Ok(None);
        };
        raw.into_config(source, origin).map(Some)
    }
}

#[derive(Deserialize)]
struct RawDocument {
    redaction: Option<RawRedaction>,
}

/// The keys of a `[redaction]` table.
const KEYS: &[&str] = &["classes", "margin_ms", "placeholder", "audio"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRedaction {
    classes: Option<Vec<Spanned<String>>>,
    margin_ms: Option<Spanned<i64>>,
    placeholder: Option<Spanned<String>>,
    audio: Option<Spanned<String>>,
}

impl RawRedaction {
    fn into_config(self, src: &str, origin: &str) -> Result<RedactionConfig, ConfigError> {
        let mut cfg = RedactionConfig::default();
        if let Some(names) = self.classes {
            cfg.classes.clear();
            for name in names {
                let span = name.span();
                let name = name.into_inner();
                if let Some(class) = DataClass::from_name(&name) {
                    cfg.classes.insert(class);
                } else if let Some((_, group)) = GROUPS.iter().find(|(g, _)| *g == name) {
                    cfg.classes.extend(group.iter().copied());
                } else {
                    let known: Vec<&str> = DataClass::ALL
                        .iter()
                        .map(|c| c.name())
                        .chain(GROUPS.iter().map(|(g, _)| *g))
                        .collect();
                    return Err(ConfigError::at(
                        origin,
                        src,
                        span,
                        format!("unknown data class '{name}'"),
                        Some(suggest(&name, &known).map_or_else(
                            || format!("known classes and groups: {}", known.join(", ")),
                            |s| format!("did you mean '{s}'?"),
                        )),
                    ));
                }
            }
        }
        if let Some(m) = self.margin_ms {
            let span = m.span();
            let v = *m.get_ref();
            if !(0..=MAX_MARGIN_MS as i64).contains(&v) {
                return Err(ConfigError::at(
                    origin,
                    src,
                    span,
                    format!("margin_ms must be 0 to {MAX_MARGIN_MS}, got {v}"),
                    Some(format!("the default is {DEFAULT_MARGIN_MS}")),
                ));
            }
            cfg.margin_ms = v as u64;
        }
        if let Some(p) = self.placeholder {
            cfg.placeholder = match p.get_ref().as_str() {
                "label" => PlaceholderStyle::Label,
                "generic" => PlaceholderStyle::Generic,
                other => {
                    return Err(ConfigError::at(
                        origin,
                        src,
                        p.span(),
                        format!("unknown placeholder style '{other}'"),
                        Some(
                            "expected \"label\" ([card number]) or \"generic\" ([redacted])".into(),
                        ),
                    ))
                }
            };
        }
        if let Some(a) = self.audio {
            cfg.audio = match a.get_ref().as_str() {
                "silence" => AudioStyle::Silence,
                "tone" => AudioStyle::Tone,
                other => {
                    return Err(ConfigError::at(
                        origin,
                        src,
                        a.span(),
                        format!("unknown audio style '{other}'"),
                        Some("expected \"silence\" or \"tone\"".into()),
                    ))
                }
            };
        }
        Ok(cfg)
    }
}

fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// toml reports `unknown field `clases`, expected one of …`; name the nearest key.
fn unknown_key_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let key = &rest[..rest.find('`')?];
    Some(suggest(key, KEYS).map_or_else(
        || format!("a [redaction] table takes {}", KEYS.join(", ")),
        |s| format!("did you mean '{s}'?"),
    ))
}

/// A problem in a `[redaction]` table, at a file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (or other origin) as the caller named it.
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The source line, for the caret display.
    pub source_line: String,
}

impl ConfigError {
    fn at(
        origin: &str,
        src: &str,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let start = span.start.min(src.len());
        // A span may start inside a multi-byte character only if toml is wrong; be safe anyway.
        let start = (0..=start)
            .rev()
            .find(|&i| src.is_char_boundary(i))
            .unwrap_or(0);
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        ConfigError {
            origin: origin.to_string(),
            line: src[..start].matches('\n').count() + 1,
            column: src[line_start..start].chars().count() + 1,
            message: message.into(),
            hint,
            source_line: src[line_start..line_end].trim_end_matches('\r').to_string(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `file:line:col: message`, the line and a caret, as rubric errors read.
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.origin, self.line, self.column, self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(f, "{:gutter$} | {}^", "", " ".repeat(self.column - 1))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{:gutter$} = hint: {hint}", "")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_table_is_the_default_card_only() {
        let cfg =
            RedactionConfig::from_toml("id = \"x\"\n[[criteria]]\nid = \"a\"\n", "r.toml").unwrap();
        assert_eq!(cfg, RedactionConfig::default());
        assert!(cfg.enabled(DataClass::CardNumber));
        assert!(cfg.enabled(DataClass::SecurityCode));
        assert!(cfg.enabled(DataClass::ExpiryDate));
        assert!(!cfg.enabled(DataClass::Email));
        assert_eq!(cfg.margin_ms, 500);
    }

    #[test]
    fn classes_groups_and_styles_are_read() {
        let cfg = RedactionConfig::from_toml(
            "[redaction]\nclasses = [\"card\", \"bank\", \"email\"]\nmargin_ms = 250\nplaceholder = \"generic\"\naudio = \"tone\"\n",
            "c.toml",
        )
        .unwrap();
        let want: BTreeSet<_> = [
            DataClass::CardNumber,
            DataClass::SecurityCode,
            DataClass::ExpiryDate,
            DataClass::BankAccount,
            DataClass::SortCode,
            DataClass::Email,
        ]
        .into_iter()
        .collect();
        assert_eq!(cfg.classes, want);
        assert_eq!(cfg.margin_ms, 250);
        assert_eq!(cfg.placeholder, PlaceholderStyle::Generic);
        assert_eq!(cfg.audio, AudioStyle::Tone);
        assert_eq!(cfg.placeholder_for(DataClass::Email), "[redacted]");
    }

    #[test]
    fn an_empty_list_switches_redaction_off() {
        let cfg = RedactionConfig::from_toml("[redaction]\nclasses = []\n", "c.toml").unwrap();
        assert!(cfg.classes.is_empty());
        assert_eq!(cfg, RedactionConfig::off());
    }

    #[test]
    fn section_says_whether_the_table_was_there() {
        assert_eq!(
            RedactionConfig::section_from_toml("a = 1\n", "c.toml").unwrap(),
            None
        );
        assert!(
            RedactionConfig::section_from_toml("[redaction]\n", "c.toml")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn an_unknown_class_is_located_with_a_suggestion() {
        let src = "[redaction]\nclasses = [\"card\", \"emial\"]\n";
        let e = RedactionConfig::from_toml(src, "rubric.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 20));
        assert_eq!(e.message, "unknown data class 'emial'");
        assert_eq!(e.hint.as_deref(), Some("did you mean 'email'?"));
        insta::assert_snapshot!(e.to_string(), @r#"
        rubric.toml:2:20: unknown data class 'emial'
        2 | classes = ["card", "emial"]
          |                    ^
          = hint: did you mean 'email'?
        "#);
    }

    #[test]
    fn an_unknown_key_is_located_with_a_suggestion() {
        let src = "[redaction]\nmargin = 300\n";
        let e = RedactionConfig::from_toml(src, "c.toml").unwrap_err();
        assert_eq!((e.origin.as_str(), e.line, e.column), ("c.toml", 2, 1));
        assert!(
            e.message.contains("unknown field `margin`"),
            "{}",
            e.message
        );
        assert_eq!(e.hint.as_deref(), Some("did you mean 'margin_ms'?"));
    }

    #[test]
    fn wrong_types_and_ranges_are_located() {
        let e =
            RedactionConfig::from_toml("[redaction]\nmargin_ms = \"half a second\"\n", "c.toml")
                .unwrap_err();
        assert_eq!((e.line, e.column), (2, 13));
        let e = RedactionConfig::from_toml("[redaction]\nmargin_ms = -5\n", "c.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 13));
        assert_eq!(e.message, "margin_ms must be 0 to 10000, got -5");
        let e =
            RedactionConfig::from_toml("[redaction]\naudio = \"beep\"\n", "c.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 9));
        let e = RedactionConfig::from_toml("[redaction]\nplaceholder = \"stars\"\n", "c.toml")
            .unwrap_err();
        assert_eq!(e.message, "unknown placeholder style 'stars'");
    }

    #[test]
    fn broken_toml_is_located() {
        let e = RedactionConfig::from_toml("[redaction\nclasses = []\n", "c.toml").unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(e.origin, "c.toml");
    }
}
