//! The language a rubric's calls are in, which chooses the built-in detectors' cue words
//! (greetings, self-introductions, questions, offers of help). Tokenising does not depend on it:
//! CJK characters are words by themselves in any rubric (see [`crate::text::is_ideographic`]),
//! so phrase checks work on Chinese text in every rubric.

/// A language the built-in detectors have cues for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    English,
    /// Chinese in either script (Mandarin; the cues are Mandarin service-line phrasing).
    Chinese,
}

impl Language {
    /// What a rubric's `language = "…"` may say.
    pub const NAMES: &'static [&'static str] = &["en", "zh"];

    /// From a language code: `en`, `zh` (also `zh-CN`, `zh-TW`, `zh-Hans`, `zh-Hant`, `cmn`).
    pub fn parse(code: &str) -> Option<Language> {
        let code = code.trim().to_ascii_lowercase();
        let primary = code.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" | "eng" => Some(Language::English),
            "zh" | "zho" | "chi" | "cmn" => Some(Language::Chinese),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Chinese => "zh",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_regional_variants() {
        assert_eq!(Language::parse("zh"), Some(Language::Chinese));
        assert_eq!(Language::parse("zh-TW"), Some(Language::Chinese));
        assert_eq!(Language::parse("zh_Hans"), Some(Language::Chinese));
        assert_eq!(Language::parse("EN"), Some(Language::English));
        assert_eq!(Language::parse("de"), None);
        assert_eq!(Language::Chinese.code(), "zh");
    }
}
