//! The shop script: who the shopper is and what they say, in order (TOML; `shops/README.md`
//! documents every key with an example).
//!
//! ```toml
//! id = "billing-question"
//! name = "Billing question: bill higher than usual"
//!
//! [persona]
//! name = "Priya Raman"
//! wants = "to know why her latest bill is higher than usual"
//!
//! [[lines]]
//! say = "Hi, I'm calling about my latest bill. It's much higher than usual."
//!
//! [[lines]]
//! audio = "lines/02.wav"        # relative to this file
//! ```
//!
//! Every mistake is reported with file, line and column, before anything is dialled.

use crate::error::{Problem, ShopError};
use callscore_rubric::duration::parse_duration_ms;
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The espeak-ng voice used when neither the line, the persona nor the script names one.
pub const DEFAULT_VOICE: &str = "en-gb";
/// Words per minute of synthesised speech (espeak-ng's own default is 175, a little fast on
/// a phone line).
pub const DEFAULT_SPEED_WPM: u32 = 160;

/// A checked shop script.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopScript {
    /// Where the script was read from (audio paths are relative to its folder).
    pub origin: String,
    /// The scenario id: goes into the call's metadata (`scenario`) and file names.
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The business being shopped, for people reading the results.
    pub business: Option<String>,
    pub persona: Persona,
    /// espeak-ng voice for `say` lines (a line's or the persona's voice beats it).
    pub voice: String,
    pub speed_wpm: u32,
    /// The call is hung up this long after the answer, whatever is happening.
    pub max_duration_ms: u64,
    /// How long to let it ring before giving up (CANCEL).
    pub ring_timeout_ms: u64,
    pub turns: TurnSettings,
    pub lines: Vec<Line>,
}

/// The shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    /// The name the shopper gives; the call's `caller_name`, so the rubric can check that the
    /// agent asked for it and used it.
    pub name: String,
    /// What the shopper wants (for the people who read the results).
    pub wants: Option<String>,
    pub voice: Option<String>,
}

/// When the shopper speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnSettings {
    /// The agent's turn is over after this much silence following their speech.
    pub silence_ms: u64,
    /// The longest the shopper waits for the agent before speaking anyway (also after the last
    /// line: then the call is hung up).
    pub max_wait_ms: u64,
    /// Speech shorter than this (a click, a cough, a burst of line noise) does not count as the
    /// agent having spoken.
    pub min_speech_ms: u64,
}

impl Default for TurnSettings {
    fn default() -> Self {
        TurnSettings {
            silence_ms: 1_000,
            max_wait_ms: 15_000,
            min_speech_ms: 300,
        }
    }
}

/// One thing the shopper says.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub speech: Speech,
    /// espeak-ng voice for this line (`say` only).
    pub voice: Option<String>,
    /// Overrides [`TurnSettings::max_wait_ms`] for the wait before this line.
    pub max_wait_ms: Option<u64>,
    /// Extra time to wait after the agent's turn ends, before speaking (a person's reaction).
    pub pause_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Speech {
    /// Text spoken with espeak-ng.
    Say(String),
    /// A recording, resolved against the script's folder.
    Audio(PathBuf),
}

impl Line {
    /// What the line says, for logs and reports.
    pub fn describe(&self) -> String {
        match &self.speech {
            Speech::Say(t) => format!("\"{t}\""),
            Speech::Audio(p) => p.display().to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    id: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    description: Option<String>,
    business: Option<String>,
    persona: Option<Spanned<RawPersona>>,
    voice: Option<Spanned<String>>,
    speed: Option<Spanned<i64>>,
    max_duration: Option<Spanned<String>>,
    ring_timeout: Option<Spanned<String>>,
    turns: Option<RawTurns>,
    lines: Option<Spanned<Vec<Spanned<RawLine>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPersona {
    name: Option<Spanned<String>>,
    wants: Option<String>,
    voice: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurns {
    silence: Option<Spanned<String>>,
    max_wait: Option<Spanned<String>>,
    min_speech: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    say: Option<Spanned<String>>,
    audio: Option<Spanned<String>>,
    voice: Option<Spanned<String>>,
    max_wait: Option<Spanned<String>>,
    pause: Option<Spanned<String>>,
}

struct Checker<'a> {
    origin: &'a str,
    src: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<&str>) {
        self.problems.push(Problem::at(
            self.origin,
            self.src,
            span,
            message,
            hint.map(str::to_string),
        ));
    }

    fn duration(&mut self, value: &Option<Spanned<String>>, key: &str) -> Option<u64> {
        let v = value.as_ref()?;
        match parse_duration_ms(v.get_ref()) {
            Ok(ms) => Some(ms),
            Err(e) => {
                self.problem(
                    v.span(),
                    format!("bad duration for `{key}`: {e}"),
                    Some("write e.g. \"1s\", \"1m30s\" or \"500ms\""),
                );
                None
            }
        }
    }

    fn voice(&mut self, value: &Option<Spanned<String>>) -> Option<String> {
        let v = value.as_ref()?;
        let ok = !v.get_ref().is_empty()
            && v.get_ref()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-_/".contains(c));
        if !ok {
            self.problem(
                v.span(),
                format!("`{}` is not an espeak-ng voice name", v.get_ref()),
                Some("voices look like \"en-gb\", \"en-us+f3\"; `espeak-ng --voices` lists them"),
            );
            return None;
        }
        Some(v.get_ref().clone())
    }
}

/// Whether `id` is usable in file names and ledgers.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !id.starts_with('.')
}

impl ShopScript {
    /// Reads and checks a script file. `audio` paths are resolved against its folder and must
    /// exist.
    pub fn from_path(path: &Path) -> Result<ShopScript, ShopError> {
        let text = std::fs::read_to_string(path).map_err(|source| ShopError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        ShopScript::from_toml_str(&text, &path.display().to_string(), base)
    }

    /// Checks a script given as text; `origin` names it in errors, `base` is the folder that
    /// `audio` paths are relative to.
    pub fn from_toml_str(src: &str, origin: &str, base: &Path) -> Result<ShopScript, ShopError> {
        let mut c = Checker {
            origin,
            src,
            problems: Vec::new(),
        };
        let raw: RawScript = match toml::from_str(src) {
            Ok(r) => r,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim().to_string();
                let hint = message
                    .contains("unknown field")
                    .then_some("shops/README.md lists the keys a script takes");
                c.problem(span, message, hint);
                return Err(ShopError::Invalid {
                    problems: c.problems,
                });
            }
        };
        let whole = 0..src.find('\n').unwrap_or(src.len());

        let id = match &raw.id {
            Some(id) if valid_id(id.get_ref()) => id.get_ref().clone(),
            Some(id) => {
                c.problem(
                    id.span(),
                    format!("`{}` is not a usable scenario id", id.get_ref()),
                    Some("use letters, digits, '-', '_' and '.', e.g. \"billing-question\""),
                );
                String::new()
            }
            None => {
                c.problem(
                    whole.clone(),
                    "the script has no `id`",
                    Some("add e.g. `id = \"billing-question\"` at the top"),
                );
                String::new()
            }
        };
        let name = match &raw.name {
            Some(n) if !n.get_ref().trim().is_empty() => n.get_ref().clone(),
            Some(n) => {
                c.problem(n.span(), "`name` is empty", None);
                String::new()
            }
            None => {
                c.problem(
                    whole.clone(),
                    "the script has no `name`",
                    Some("add e.g. `name = \"Billing question\"`"),
                );
                String::new()
            }
        };
        let persona = match &raw.persona {
            None => {
                c.problem(
                    whole.clone(),
                    "the script has no `[persona]`",
                    Some("add `[persona]` with `name = \"…\"`: the name the shopper gives"),
                );
                None
            }
            Some(p) => {
                let span = p.span();
                let p = p.get_ref();
                let voice = c.voice(&p.voice);
                match &p.name {
                    Some(n) if !n.get_ref().trim().is_empty() => Some(Persona {
                        name: n.get_ref().trim().to_string(),
                        wants: p.wants.clone(),
                        voice,
                    }),
                    Some(n) => {
                        c.problem(n.span(), "the persona's `name` is empty", None);
                        None
                    }
                    None => {
                        c.problem(
                            span,
                            "`[persona]` has no `name`",
                            Some("add `name = \"Priya Raman\"`: the name the shopper gives"),
                        );
                        None
                    }
                }
            }
        };
        let voice = c.voice(&raw.voice).unwrap_or_else(|| DEFAULT_VOICE.into());
        let speed_wpm = match &raw.speed {
            None => DEFAULT_SPEED_WPM,
            Some(s) if (80..=450).contains(s.get_ref()) => *s.get_ref() as u32,
            Some(s) => {
                c.problem(
                    s.span(),
                    format!(
                        "`speed` must be 80 to 450 words per minute, not {}",
                        s.get_ref()
                    ),
                    None,
                );
                DEFAULT_SPEED_WPM
            }
        };
        let max_duration_ms = c
            .duration(&raw.max_duration, "max_duration")
            .unwrap_or(5 * 60_000);
        let ring_timeout_ms = c
            .duration(&raw.ring_timeout, "ring_timeout")
            .unwrap_or(30_000);
        for (value, ms) in [
            (&raw.max_duration, max_duration_ms),
            (&raw.ring_timeout, ring_timeout_ms),
        ] {
            if let Some(v) = value {
                if ms < 1_000 {
                    c.problem(v.span(), "must be at least 1s", None);
                }
            }
        }
        let mut turns = TurnSettings::default();
        if let Some(t) = &raw.turns {
            if let Some(ms) = c.duration(&t.silence, "silence") {
                turns.silence_ms = ms;
            }
            if let Some(ms) = c.duration(&t.max_wait, "max_wait") {
                turns.max_wait_ms = ms;
            }
            if let Some(ms) = c.duration(&t.min_speech, "min_speech") {
                turns.min_speech_ms = ms;
            }
            if let Some(s) = &t.silence {
                if !(200..=10_000).contains(&turns.silence_ms) {
                    c.problem(
                        s.span(),
                        "`silence` must be between 200ms and 10s",
                        Some("a person takes about a second of silence as their turn"),
                    );
                }
            }
            if let Some(w) = &t.max_wait {
                if turns.max_wait_ms < turns.silence_ms {
                    c.problem(w.span(), "`max_wait` is shorter than `silence`", None);
                }
            }
        }

        let mut lines = Vec::new();
        match &raw.lines {
            None => c.problem(
                whole,
                "the script has no `[[lines]]`",
                Some("add `[[lines]]` tables with `say = \"…\"` or `audio = \"file.wav\"`"),
            ),
            Some(list) if list.get_ref().is_empty() => {
                c.problem(list.span(), "`lines` is empty", None)
            }
            Some(list) => {
                for line in list.get_ref() {
                    let span = line.span();
                    let l = line.get_ref();
                    let speech = match (&l.say, &l.audio) {
                        (Some(s), None) if s.get_ref().trim().is_empty() => {
                            c.problem(s.span(), "`say` is empty", None);
                            None
                        }
                        (Some(s), None) => Some(Speech::Say(s.get_ref().trim().to_string())),
                        (None, Some(a)) => {
                            let path = base.join(a.get_ref());
                            if path.is_file() {
                                Some(Speech::Audio(path))
                            } else {
                                c.problem(
                                    a.span(),
                                    format!("no such audio file {}", path.display()),
                                    Some("`audio` paths are relative to the script's folder"),
                                );
                                None
                            }
                        }
                        (Some(_), Some(a)) => {
                            c.problem(
                                a.span(),
                                "a line has both `say` and `audio`",
                                Some("give one: split it into two `[[lines]]`"),
                            );
                            None
                        }
                        (None, None) => {
                            c.problem(
                                span,
                                "a line has neither `say` nor `audio`",
                                Some("add `say = \"…\"` (spoken with espeak-ng) or `audio = \"file.wav\"`"),
                            );
                            None
                        }
                    };
                    if let (Some(v), Some(_)) = (&l.voice, &l.audio) {
                        c.problem(v.span(), "`voice` applies to `say` lines only", None);
                    }
                    let voice = c.voice(&l.voice);
                    let max_wait_ms = c.duration(&l.max_wait, "max_wait");
                    let pause_ms = c.duration(&l.pause, "pause").unwrap_or(0);
                    if let Some(speech) = speech {
                        lines.push(Line {
                            speech,
                            voice,
                            max_wait_ms,
                            pause_ms,
                        });
                    }
                }
            }
        }
        if !c.problems.is_empty() {
            return Err(ShopError::Invalid {
                problems: c.problems,
            });
        }
        Ok(ShopScript {
            origin: origin.to_string(),
            id,
            name,
            description: raw.description,
            business: raw.business,
            persona: persona.unwrap_or_else(|| unreachable!("a missing persona is a problem")),
            voice,
            speed_wpm,
            max_duration_ms,
            ring_timeout_ms,
            turns,
            lines,
        })
    }

    /// The voice a `say` line is spoken in: the line's, the persona's, then the script's.
    pub fn voice_of<'a>(&'a self, line: &'a Line) -> &'a str {
        line.voice
            .as_deref()
            .or(self.persona.voice.as_deref())
            .unwrap_or(&self.voice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "billing-question"
name = "Billing question"
business = "Riverside Energy"
voice = "en-us"
max_duration = "3m"

[persona]
name = "Priya Raman"
wants = "to know why her bill went up"

[turns]
silence = "1.2s"

[[lines]]
say = "Hi, I'm calling about my bill."
pause = "300ms"

[[lines]]
say = "It's Priya Raman."
voice = "en-gb+f3"
max_wait = "20s"
"#;

    fn problems(src: &str) -> Vec<Problem> {
        match ShopScript::from_toml_str(src, "s.toml", Path::new(".")) {
            Err(ShopError::Invalid { problems }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_script_with_defaults_filled_in() {
        let s = ShopScript::from_toml_str(GOOD, "s.toml", Path::new(".")).unwrap();
        assert_eq!(s.id, "billing-question");
        assert_eq!(s.persona.name, "Priya Raman");
        assert_eq!(s.max_duration_ms, 180_000);
        assert_eq!(s.ring_timeout_ms, 30_000);
        assert_eq!(s.turns.silence_ms, 1_200);
        assert_eq!(s.turns.max_wait_ms, 15_000);
        assert_eq!(s.lines.len(), 2);
        assert_eq!(s.lines[0].pause_ms, 300);
        assert_eq!(s.lines[1].max_wait_ms, Some(20_000));
        assert_eq!(s.voice_of(&s.lines[0]), "en-us");
        assert_eq!(s.voice_of(&s.lines[1]), "en-gb+f3");
    }

    #[test]
    fn unknown_keys_point_at_the_key() {
        let p = problems(&GOOD.replace("pause = ", "pasue = "));
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("unknown field `pasue`"), "{}", p[0]);
        assert_eq!((p[0].line, p[0].column), (17, 1), "{}", p[0]);
    }

    #[test]
    fn every_mistake_is_reported_with_its_place() {
        let src = r#"id = "no spaces please"
name = "x"
speed = 20

[persona]
wants = "a quote"

[turns]
silence = "ten"

[[lines]]
say = "Hello."
audio = "hello.wav"

[[lines]]
voice = "en"

[[lines]]
audio = "missing.wav"
"#;
        let p = problems(src);
        let found: Vec<(usize, &str)> = p.iter().map(|p| (p.line, p.message.as_str())).collect();
        let expect = [
            (1, "is not a usable scenario id"),
            (5, "`[persona]` has no `name`"),
            (3, "`speed` must be 80 to 450"),
            (9, "bad duration for `silence`"),
            (13, "both `say` and `audio`"),
            (15, "neither `say` nor `audio`"),
            (19, "no such audio file"),
        ];
        assert_eq!(p.len(), expect.len(), "{found:?}");
        for (line, text) in expect {
            assert!(
                found.iter().any(|(l, m)| *l == line && m.contains(text)),
                "no problem {text:?} on line {line}: {found:?}"
            );
        }
    }

    #[test]
    fn a_missing_persona_and_lines_are_named() {
        let p = problems("id = \"a\"\nname = \"b\"\n");
        let messages: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "the script has no `[persona]`",
                "the script has no `[[lines]]`"
            ]
        );
    }

    #[test]
    fn audio_paths_are_relative_to_the_script() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lines")).unwrap();
        std::fs::write(dir.path().join("lines/01.wav"), b"RIFF").unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "id = \"a\"\nname = \"b\"\n[persona]\nname = \"P\"\n[[lines]]\naudio = \"lines/01.wav\"\n",
        )
        .unwrap();
        let s = ShopScript::from_path(&path).unwrap();
        assert_eq!(
            s.lines[0].speech,
            Speech::Audio(dir.path().join("lines/01.wav"))
        );
    }
}
