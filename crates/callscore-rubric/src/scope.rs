//! Which part of a call a criterion looks at: whose speech, and which stretch of time.

use crate::text::{Call, Seg};
use callscore_core::{fmt_ms, Evidence, Outcome, Speaker};
use std::ops::Range;

/// Whose speech a criterion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Agent,
    Caller,
    /// Everyone, including unattributed (mono) speech.
    Any,
}

impl Who {
    pub(crate) fn parse(s: &str) -> Option<Who> {
        match s.to_ascii_lowercase().as_str() {
            "agent" => Some(Who::Agent),
            "caller" | "customer" => Some(Who::Caller),
            "any" | "anyone" | "both" => Some(Who::Any),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Who::Agent => "agent",
            Who::Caller => "caller",
            Who::Any => "any",
        }
    }

    pub(crate) fn includes(self, speaker: Speaker) -> bool {
        match self {
            Who::Agent => speaker == Speaker::Agent,
            Who::Caller => speaker == Speaker::Caller,
            Who::Any => true,
        }
    }
}

/// The stretch of the call a criterion looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Whole,
    /// The first N ms (`within = "30s"`).
    First(u64),
    /// The last N ms before the end of the call (`last = "60s"`).
    Last(u64),
}

impl Window {
    /// The window as call-time bounds `[from, to)`. `Last` counts back from `speech_end_ms`,
    /// the end of the last words: silence or hold music after the goodbye does not push the
    /// closing out of the window (the window still runs on to the end of the recording).
    pub(crate) fn bounds(self, speech_end_ms: u64) -> (u64, u64) {
        match self {
            Window::Whole => (0, u64::MAX),
            Window::First(ms) => (0, ms),
            Window::Last(ms) => (speech_end_ms.saturating_sub(ms), u64::MAX),
        }
    }

    /// " in the first 0:30", " in the last 1:00", or "".
    pub(crate) fn describe(self) -> String {
        match self {
            Window::Whole => String::new(),
            Window::First(ms) => format!(" in the first {}", fmt_ms(ms)),
            Window::Last(ms) => format!(" in the last {} of speech", fmt_ms(ms)),
        }
    }
}

/// Whose speech and which stretch: what a criterion reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub who: Who,
    pub window: Window,
}

impl Scope {
    /// Whether `seg` is spoken by the right person and touches the window.
    pub(crate) fn includes_seg(&self, call: &Call<'_>, seg: &Seg<'_>) -> bool {
        if !self.who.includes(seg.speaker) {
            return false;
        }
        let (from, to) = self.window.bounds(call.speech_end_ms);
        overlaps(seg.start_ms, seg.end_ms, from, to)
    }

    /// Whether a match at `range` of an included segment lies in the window. Only a segment
    /// that straddles the window's edge needs its word times consulted.
    pub(crate) fn includes_match(
        &self,
        call: &Call<'_>,
        seg: &Seg<'_>,
        range: &Range<usize>,
    ) -> bool {
        let (from, to) = self.window.bounds(call.speech_end_ms);
        if seg.start_ms >= from && seg.end_ms <= to {
            return true;
        }
        let (s, e) = seg.time_of(range);
        overlaps(s, e, from, to)
    }

    /// The segments this scope reads, in call order, with their index.
    pub(crate) fn segs<'c, 't>(
        &'c self,
        call: &'c Call<'t>,
    ) -> impl Iterator<Item = (usize, &'c Seg<'t>)> + 'c {
        call.segs
            .iter()
            .enumerate()
            .filter(move |(_, s)| self.includes_seg(call, s))
    }

    /// "agent speech in the first 0:30"
    pub(crate) fn describe(&self) -> String {
        let who = match self.who {
            Who::Agent => "agent speech",
            Who::Caller => "caller speech",
            Who::Any => "the call",
        };
        format!("{who}{}", self.window.describe())
    }
}

/// Half-open intervals `[a0, a1)` and `[b0, b1)` share time; an instantaneous segment
/// (`a0 == a1`) counts when it lies inside `[b0, b1)`.
pub(crate) fn overlaps(a0: u64, a1: u64, b0: u64, b1: u64) -> bool {
    if a0 == a1 {
        return b0 <= a0 && a0 < b1;
    }
    a0 < b1 && b0 < a1
}

/// The verdict of one criterion before points are attached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    pub outcome: Outcome,
    pub evidence: Vec<Evidence>,
    pub reason: String,
}

impl Verdict {
    pub fn pass(reason: impl Into<String>, evidence: Vec<Evidence>) -> Verdict {
        Verdict {
            outcome: Outcome::Pass,
            evidence,
            reason: reason.into(),
        }
    }
    pub fn fail(reason: impl Into<String>, evidence: Vec<Evidence>) -> Verdict {
        Verdict {
            outcome: Outcome::Fail,
            evidence,
            reason: reason.into(),
        }
    }
    pub fn na(reason: impl Into<String>) -> Verdict {
        Verdict {
            outcome: Outcome::NotApplicable,
            evidence: Vec::new(),
            reason: reason.into(),
        }
    }
    /// The standard answer for a criterion about one party on a transcript without speakers.
    pub fn speakers_unknown(who: &str, note: Option<&str>) -> Verdict {
        Verdict::na(match note {
            Some(note) => format!(
                "needs {who} speech, but no segment is attributed to agent or caller: {note}"
            ),
            None => format!(
                "needs {who} speech, but no segment is attributed to agent or caller (mono recording?)"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_bound_the_call() {
        assert_eq!(Window::First(30_000).bounds(100_000), (0, 30_000));
        assert_eq!(Window::Last(60_000).bounds(100_000), (40_000, u64::MAX));
        assert_eq!(Window::Last(60_000).bounds(10_000), (0, u64::MAX));
    }

    #[test]
    fn overlap_is_half_open() {
        assert!(overlaps(0, 10, 5, 20));
        assert!(!overlaps(0, 10, 10, 20));
        assert!(overlaps(5, 5, 0, 10));
        assert!(!overlaps(10, 10, 0, 10));
    }
}
