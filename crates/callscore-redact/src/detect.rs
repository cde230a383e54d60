//! Finding sensitive data among the units of a transcript.
//!
//! Numbers are read per speaker: each speaker's units form a *lane*, so a caller's number
//! continues across the agent's "Yes." and "Go on." (segments of the other speaker that say
//! little) and across the caller's own segment breaks, but not across an agent turn that asks
//! for something else. In a lane, a *run* is a stretch of digit units with nothing but joiners
//! ("um", "and", "yes") between them.
//!
//! Card numbers are the runs, or stretches of runs that start and end where the speaker paused
//! or a written group ends, with 13–19 digits that pass the Luhn check. Because speech-to-text
//! mishears digits (and a misheard digit fails Luhn), a long number read right after a card cue
//! ("card number", "long number on the front") is a card number too. Security codes, expiry
//! dates and the cue-based optional classes are the first fitting phrase after their cue, by
//! either speaker; a short number the card's reader says soon after the card is its security
//! code or expiry date even when speech-to-text garbled the agent's question.

use std::collections::BTreeMap;

use callscore_core::Speaker;
use regex::Regex;

use crate::class::DataClass;
use crate::config::RedactionConfig;
use crate::luhn::luhn_valid;
use crate::units::{core_of, Kind, Pause, Token, Unit};

/// The regular expressions detection uses, compiled once per [`crate::Redactor`].
#[derive(Clone)]
pub(crate) struct Patterns {
    email: Regex,
    national_insurance: Regex,
}

impl Patterns {
    pub(crate) fn new() -> Patterns {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|e| unreachable!("pattern {p}: {e}"));
        Patterns {
            email: compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"),
            // Two prefix letters (D, F, I, Q, U, V never; O never second), six digits, A–D.
            national_insurance: compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]?$"),
        }
    }
}

impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Patterns")
    }
}

/// One finding: a class and the units that hold it.
pub(crate) struct Detection {
    pub class: DataClass,
    pub units: Vec<usize>,
}

/// Cue phrases per class. `a|b` matches either word; digits match their written form too.
const CUES: &[(DataClass, &[&str])] = &[
    (DataClass::CardNumber, &["card", "number"]),
    (DataClass::CardNumber, &["card", "numbers"]),
    (DataClass::CardNumber, &["card", "no"]),
    (DataClass::CardNumber, &["card", "details"]),
    (DataClass::CardNumber, &["long", "number"]),
    (
        DataClass::CardNumber,
        &["number|numbers", "on|across", "the", "front"],
    ),
    (DataClass::CardNumber, &["number", "on", "the", "card"]),
    (DataClass::SecurityCode, &["security", "code|number|digits"]),
    (DataClass::SecurityCode, &["cvv|cvc|cv2|cvv2|cvc2|csc|cid"]),
    (DataClass::SecurityCode, &["c", "v", "v|c"]),
    (
        DataClass::SecurityCode,
        &["verification", "code|number|value"],
    ),
    (
        DataClass::SecurityCode,
        &["three|3", "digits|numbers|digit", "on", "the", "back"],
    ),
    (
        DataClass::SecurityCode,
        &["three|3", "digit", "code|number"],
    ),
    (
        DataClass::SecurityCode,
        &["last", "three|3", "digits|numbers"],
    ),
    (
        DataClass::SecurityCode,
        &["digits|numbers|number", "on", "the", "back"],
    ),
    (
        DataClass::SecurityCode,
        &["four|4", "digits|numbers", "on", "the", "front"],
    ),
    (DataClass::ExpiryDate, &["expiry|expiration|exp", "date"]),
    (
        DataClass::ExpiryDate,
        &["expiry|expiration|expires|expire|expiring|expired|exp"],
    ),
    (
        DataClass::ExpiryDate,
        &["valid|good", "until|till|thru|through|to"],
    ),
    (DataClass::ExpiryDate, &["end", "date"]),
    (DataClass::DateOfBirth, &["date", "of", "birth"]),
    (DataClass::DateOfBirth, &["birth", "date"]),
    (DataClass::DateOfBirth, &["birthdate|birthday|dob"]),
    (DataClass::DateOfBirth, &["d", "o", "b"]),
    (DataClass::DateOfBirth, &["born", "on|in"]),
    (DataClass::SocialSecurity, &["social", "security", "number"]),
    (DataClass::SocialSecurity, &["social", "security"]),
    (DataClass::SocialSecurity, &["ssn|social"]),
    (DataClass::SocialSecurity, &["s", "s", "n"]),
    (DataClass::BankAccount, &["account", "number|no|num"]),
    (DataClass::BankAccount, &["bank", "account"]),
    (DataClass::SortCode, &["sort", "code"]),
];

const NUMBER_WORDS: [(&str, &str); 5] = [
    ("three", "3"),
    ("four", "4"),
    ("one", "1"),
    ("two", "2"),
    ("five", "5"),
];

fn word_matches(alternatives: &str, norm: &str) -> bool {
    alternatives.split('|').any(|w| {
        w == norm
            || NUMBER_WORDS
                .iter()
                .any(|(word, digit)| w == *word && norm == *digit)
    })
}

/// Marks the units of every cue phrase (longest match first) as `Cue(class)`, whatever
/// classes are enabled: a turn that asks for any of them ends the numbers before it.
pub(crate) fn mark_cues(units: &mut [Unit]) {
    let mut i = 0;
    while i < units.len() {
        let mut best: Option<(usize, DataClass)> = None;
        for (class, words) in CUES {
            let n = words.len();
            if i + n > units.len() || best.is_some_and(|(len, _)| len >= n) {
                continue;
            }
            let seg = units[i].seg;
            let hit = words.iter().enumerate().all(|(k, w)| {
                let u = &units[i + k];
                u.seg == seg && !matches!(u.kind, Kind::Placeholder(_)) && word_matches(w, &u.norm)
            });
            if hit {
                best = Some((n, *class));
            }
        }
        if let Some((n, class)) = best {
            for u in &mut units[i..i + n] {
                u.kind = Kind::Cue(class);
            }
            i += n;
        } else {
            i += 1;
        }
    }
}

/// Longest silence inside a number before the rest is another number, in ms.
const RUN_MAX_GAP_MS: u64 = 15_000;
/// A pause between two spoken digits this long marks a group boundary (word times only).
const GROUP_GAP_MS: u64 = 700;
/// How far after a cue its data may come.
const CUE_WINDOW_UNITS: usize = 40;
const CUE_WINDOW_MS: u64 = 30_000;
/// A security code or expiry date said this soon after the card number, by the same speaker,
/// is taken as one even without a cue.
const AFTER_CARD_MS: u64 = 120_000;
/// Inside one spoken phrase (a code, a date), no silence longer than this.
const PHRASE_MAX_GAP_MS: u64 = 5_000;
/// An other-speaker segment with more words than this is a turn of its own, not an
/// interjection such as "Yes, go on."
const MINOR_TURN_WORDS: usize = 4;

/// Why two neighbouring units of a lane are apart.
#[derive(Clone, Copy, Default)]
struct Gap {
    /// A real turn by someone else, or a long silence: no number continues across it.
    major: bool,
    /// The other speaker interjected, or a segment ended: the speaker paused.
    pause: bool,
}

/// Whether a number may start between two digit units of a run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Boundary {
    /// No: spoken digits one after another.
    None,
    /// A written group ends ("4111 1111"), or a word that is a digit only by context.
    Group,
    /// The speaker paused: punctuation, a filler, the other party's interjection, a new
    /// segment, a silence.
    Pause,
}

struct Run {
    units: Vec<usize>,
    /// `boundary[i]`: what lies between `units[i - 1]` and `units[i]`; `Pause` for the first.
    boundary: Vec<Boundary>,
}

impl Run {
    fn digit_count(&self, units: &[Unit]) -> usize {
        self.units
            .iter()
            .map(|&u| units[u].digits().map_or(0, str::len))
            .sum()
    }
}

pub(crate) struct Detector<'a> {
    units: &'a [Unit],
    tokens: &'a [Token],
    cfg: &'a RedactionConfig,
    patterns: &'a Patterns,
    lanes: BTreeMap<Speaker, Vec<usize>>,
    /// Position of each unit in its lane.
    lane_pos: Vec<usize>,
    /// Segments of each speaker before index i that are turns of their own, and all segments
    /// before index i, by speaker, for counting what lies between two lane units.
    seg_major_prefix: BTreeMap<Speaker, Vec<usize>>,
    seg_any_prefix: BTreeMap<Speaker, Vec<usize>>,
    runs: Vec<Run>,
    /// (run, position in run) of each digit unit.
    run_of: Vec<Option<(usize, usize)>>,
    claims: Vec<Option<usize>>,
    detections: Vec<Detection>,
}

impl<'a> Detector<'a> {
    /// `questions[s]`: segment `s` asks something (its text has a question mark).
    pub(crate) fn new(
        units: &'a [Unit],
        tokens: &'a [Token],
        seg_speakers: &[Speaker],
        questions: &[bool],
        cfg: &'a RedactionConfig,
        patterns: &'a Patterns,
    ) -> Self {
        let mut lanes: BTreeMap<Speaker, Vec<usize>> = BTreeMap::new();
        let mut lane_pos = vec![0; units.len()];
        for (i, u) in units.iter().enumerate() {
            let lane = lanes.entry(u.speaker).or_default();
            lane_pos[i] = lane.len();
            lane.push(i);
        }
        let mut words_in_seg = vec![0usize; seg_speakers.len()];
        let mut cue_in_seg = vec![false; seg_speakers.len()];
        for u in units {
            match u.kind {
                Kind::Cue(_) => cue_in_seg[u.seg] = true,
                Kind::Word
                | Kind::Connector
                | Kind::Ordinal
                | Kind::Month(_)
                | Kind::Currency
                | Kind::Slash => words_in_seg[u.seg] += 1,
                _ => {}
            }
        }
        // A question of two words or more ("And the expiry?") is a turn of its own too; "And
        // the next four?" between two groups of a number is not.
        let major: Vec<bool> = (0..seg_speakers.len())
            .map(|s| {
                cue_in_seg[s]
                    || words_in_seg[s] > MINOR_TURN_WORDS
                    || (questions[s] && words_in_seg[s] >= 2)
            })
            .collect();
        let mut seg_major_prefix = BTreeMap::new();
        let mut seg_any_prefix = BTreeMap::new();
        for &sp in lanes.keys() {
            let (mut m, mut a) = (vec![0], vec![0]);
            for (s, &who) in seg_speakers.iter().enumerate() {
                let other = who != sp;
                m.push(m[s] + usize::from(other && major[s]));
                a.push(a[s] + usize::from(other));
            }
            seg_major_prefix.insert(sp, m);
            seg_any_prefix.insert(sp, a);
        }
        let mut d = Detector {
            units,
            tokens,
            cfg,
            patterns,
            lanes,
            lane_pos,
            seg_major_prefix,
            seg_any_prefix,
            runs: Vec::new(),
            run_of: vec![None; units.len()],
            claims: vec![None; units.len()],
            detections: Vec::new(),
        };
        d.build_runs();
        d
    }

    /// Between two units of one lane (`a` before `b`).
    fn gap(&self, a: usize, b: usize) -> Gap {
        let (ua, ub) = (&self.units[a], &self.units[b]);
        let sp = ua.speaker;
        let between = |prefix: &BTreeMap<Speaker, Vec<usize>>| {
            let p = &prefix[&sp];
            if ub.seg > ua.seg + 1 {
                p[ub.seg] - p[ua.seg + 1]
            } else {
                0
            }
        };
        let silence = ub.start_ms.saturating_sub(ua.end_ms);
        Gap {
            major: between(&self.seg_major_prefix) > 0 || silence > RUN_MAX_GAP_MS,
            pause: ua.seg != ub.seg || between(&self.seg_any_prefix) > 0,
        }
    }

    fn build_runs(&mut self) {
        let mut runs = Vec::new();
        for lane in self.lanes.values() {
            let mut cur: Option<Run> = None;
            let mut last_digit: Option<usize> = None;
            let mut soft_between = false; // a joiner or a pause since the last digit
            let mut prev: Option<usize> = None;
            for &i in lane {
                let u = &self.units[i];
                if let Some(p) = prev {
                    let g = self.gap(p, i);
                    if g.major {
                        runs.extend(cur.take());
                        last_digit = None;
                    }
                    soft_between |= g.pause;
                }
                prev = Some(i);
                match &u.kind {
                    Kind::Digits { digits, .. } => {
                        let boundary = match last_digit {
                            None => Boundary::Pause,
                            Some(l) => {
                                let lu = &self.units[l];
                                let multi = lu.digits().map_or(0, str::len) > 1 || digits.len() > 1;
                                let silence = lu.end_ms > 0
                                    && u.start_ms.saturating_sub(lu.end_ms) >= GROUP_GAP_MS;
                                // A comma between two spoken digits is no boundary at all:
                                // whisper writes one after nearly every digit.
                                if soft_between
                                    || silence
                                    || lu.pause == Pause::Strong
                                    || (lu.pause == Pause::Weak && multi)
                                {
                                    Boundary::Pause
                                } else if multi || lu.is_ambiguous() || u.is_ambiguous() {
                                    Boundary::Group
                                } else {
                                    Boundary::None
                                }
                            }
                        };
                        let run = cur.get_or_insert_with(|| Run {
                            units: Vec::new(),
                            boundary: Vec::new(),
                        });
                        run.units.push(i);
                        run.boundary.push(if run.boundary.is_empty() {
                            Boundary::Pause
                        } else {
                            boundary
                        });
                        last_digit = Some(i);
                        soft_between = false;
                    }
                    Kind::Joiner => soft_between = true,
                    _ => {
                        runs.extend(cur.take());
                        last_digit = None;
                        soft_between = false;
                    }
                }
            }
            runs.extend(cur.take());
        }
        for (r, run) in runs.iter().enumerate() {
            for (k, &u) in run.units.iter().enumerate() {
                self.run_of[u] = Some((r, k));
            }
        }
        self.runs = runs;
    }

    fn claim(&mut self, class: DataClass, units: Vec<usize>) {
        let id = self.detections.len();
        for &u in &units {
            if self.claims[u].is_none() {
                self.claims[u] = Some(id);
            }
        }
        self.detections.push(Detection { class, units });
    }

    /// The class holding a unit: claimed in this pass, or a placeholder from an earlier one.
    fn held_by(&self, u: usize) -> Option<Option<DataClass>> {
        if let Some(id) = self.claims[u] {
            return Some(Some(self.detections[id].class));
        }
        match self.units[u].kind {
            Kind::Placeholder(c) => Some(c),
            _ => None,
        }
    }

    fn free(&self, u: usize) -> bool {
        self.held_by(u).is_none()
    }

    pub(crate) fn run(mut self) -> Vec<Detection> {
        let on = |c| self.cfg.enabled(c);
        if on(DataClass::CardNumber) {
            self.cards_by_luhn();
            self.cards_after_cues();
        }
        let first_card_detections = self.detections.len();
        self.cue_phrases();
        if on(DataClass::SecurityCode) || on(DataClass::ExpiryDate) {
            self.codes_after_cards(first_card_detections);
        }
        if on(DataClass::Email) {
            self.emails();
        }
        if on(DataClass::NationalInsurance) {
            self.national_insurance();
        }
        if on(DataClass::SocialSecurity) {
            self.hyphen_pattern(DataClass::SocialSecurity, &[3, 2, 4]);
        }
        if on(DataClass::SortCode) {
            self.hyphen_pattern(DataClass::SortCode, &[2, 2, 2]);
        }
        // Cue-based optional classes ran in cue_phrases, in the order their cues were said.
        self.detections
    }

    // ---- card numbers ------------------------------------------------------------------

    fn cards_by_luhn(&mut self) {
        let mut found: Vec<Vec<usize>> = Vec::new();
        for run in &self.runs {
            let lens: Vec<usize> = run
                .units
                .iter()
                .map(|&u| self.units[u].digits().map_or(0, str::len))
                .collect();
            let mut offsets = Vec::with_capacity(lens.len() + 1);
            offsets.push(0);
            for l in &lens {
                offsets.push(offsets.last().copied().unwrap_or(0) + l);
            }
            let total = offsets[lens.len()];
            if total < 13 {
                continue;
            }
            let digits: String = run
                .units
                .iter()
                .filter_map(|&u| self.units[u].digits())
                .collect();
            let n = run.units.len();
            let starts: Vec<usize> = (0..n)
                .filter(|&i| run.boundary[i] != Boundary::None)
                .collect();
            let ends: Vec<usize> = (0..n)
                .filter(|&i| i + 1 == n || run.boundary[i + 1] != Boundary::None)
                .collect();
            let paused_before = |a: usize| run.boundary[a] == Boundary::Pause;
            let paused_after = |b: usize| b + 1 == n || run.boundary[b + 1] == Boundary::Pause;
            // Candidates as (first unit, last unit, digits). Whole groups first: a number
            // starts where the speaker paused or a written group starts.
            let mut cands: Vec<(usize, usize, usize)> = Vec::new();
            for &a in &starts {
                for &b in ends.iter().filter(|&&b| b >= a) {
                    let (s, e) = (offsets[a], offsets[b + 1]);
                    if (13..=19).contains(&(e - s)) && luhn_valid(&digits[s..e]) {
                        cands.push((a, b, e - s));
                    }
                }
            }
            // A run longer than any card with no card on its group boundaries (a number then
            // its expiry or code, all in one breath): card-length windows at any digit from
            // the run's start or to its end.
            if cands.is_empty() && total > 19 {
                let unit_at = |d: usize| offsets.partition_point(|&o| o <= d) - 1;
                for len in 13..=19 {
                    for (s, e) in [(0, len), (total - len, total)] {
                        if luhn_valid(&digits[s..e]) {
                            cands.push((unit_at(s), unit_at(e - 1), len));
                        }
                    }
                }
            }
            // Overlapping candidates are one number read one way: keep the likeliest (the
            // whole run, then 16 digits, then 15 as American Express, then the longest), so
            // what follows the number is left to its own class. A candidate the speaker
            // paused before and after is kept whatever it overlaps: nothing that reads as a
            // card number on its own may stay.
            cands.sort_by_key(|&(a, b, len)| {
                (
                    !(a == 0 && b + 1 == n),
                    len != 16,
                    len != 15,
                    std::cmp::Reverse(len),
                    a,
                )
            });
            let mut hit = vec![false; n];
            for &(a, b, _) in &cands {
                let spoken_alone = paused_before(a) && paused_after(b);
                if spoken_alone || !hit[a..=b].iter().any(|&h| h) {
                    hit[a..=b].iter_mut().for_each(|h| *h = true);
                }
            }
            let mut block: Vec<usize> = Vec::new();
            for (i, &u) in run.units.iter().enumerate() {
                if hit[i] {
                    block.push(u);
                } else if !block.is_empty() {
                    found.push(std::mem::take(&mut block));
                }
            }
            if !block.is_empty() {
                found.push(block);
            }
        }
        for units in found {
            self.claim(DataClass::CardNumber, units);
        }
    }

    /// Ends of cue phrases of a class, in order: the last unit of each phrase.
    fn cue_ends(&self) -> Vec<(usize, DataClass)> {
        let mut out = Vec::new();
        for (i, u) in self.units.iter().enumerate() {
            if let Kind::Cue(c) = u.kind {
                let next_same = self
                    .units
                    .get(i + 1)
                    .is_some_and(|n| n.kind == Kind::Cue(c) && n.seg == u.seg);
                if !next_same {
                    out.push((i, c));
                }
            }
        }
        out
    }

    /// The units after a cue that its data may be in, stopping at the class's own data or cue.
    fn window(&self, cue: usize, class: DataClass) -> impl Iterator<Item = usize> + '_ {
        let end_ms = self.units[cue].end_ms;
        (cue + 1..self.units.len())
            .take(CUE_WINDOW_UNITS)
            .take_while(move |&u| {
                let unit = &self.units[u];
                unit.start_ms <= end_ms + CUE_WINDOW_MS
                    && unit.kind != Kind::Cue(class)
                    && self.held_by(u) != Some(Some(class))
                    // A generic placeholder may be this class's data.
                    && self.held_by(u) != Some(None)
            })
    }

    /// After a card cue, the first run with 12 or more digits is the card number, Luhn or not:
    /// speech-to-text that mishears one digit must not leave the other fifteen in the text.
    fn cards_after_cues(&mut self) {
        for (cue, class) in self.cue_ends() {
            if class != DataClass::CardNumber {
                continue;
            }
            let mut rejected_runs = Vec::new();
            let mut pick = None;
            for u in self.window(cue, class) {
                if !self.free(u) {
                    continue;
                }
                let Some((r, k)) = self.run_of[u] else {
                    continue;
                };
                if rejected_runs.contains(&r) {
                    continue;
                }
                let rest: Vec<usize> = self.runs[r].units[k..]
                    .iter()
                    .copied()
                    .take_while(|&x| self.free(x))
                    .collect();
                let n: usize = rest
                    .iter()
                    .map(|&x| self.units[x].digits().map_or(0, str::len))
                    .sum();
                if n >= 12 {
                    pick = Some(rest);
                    break;
                }
                rejected_runs.push(r);
            }
            if let Some(units) = pick {
                self.claim(DataClass::CardNumber, units);
            }
        }
    }

    // ---- phrases after cues ------------------------------------------------------------

    fn cue_phrases(&mut self) {
        for (cue, class) in self.cue_ends() {
            if class == DataClass::CardNumber || !self.cfg.enabled(class) {
                continue;
            }
            let spec = PhraseSpec::of(class);
            let candidates: Vec<usize> = self.window(cue, class).collect();
            for u in candidates {
                if !self.free(u) || !spec.starts_with(&self.units[u].kind) {
                    continue;
                }
                if let Some(units) = self.phrase(u, &spec) {
                    self.claim(class, units);
                    break;
                }
            }
        }
    }

    /// The phrase that starts at unit `start`, walked along its speaker's lane, if it fits.
    fn phrase(&self, start: usize, spec: &PhraseSpec) -> Option<Vec<usize>> {
        let lane = &self.lanes[&self.units[start].speaker];
        let from = self.lane_pos[start];
        if let Some(&before) = from.checked_sub(1).and_then(|p| lane.get(p)) {
            if self.units[before].kind == Kind::Currency
                && self.units[before].seg == self.units[start].seg
            {
                return None;
            }
        }
        let mut taken = Vec::new();
        let mut pending = Vec::new();
        let (mut digits, mut month, mut ordinal) = (0usize, false, false);
        let mut prev: Option<usize> = None;
        let mut stopped_by_currency = false;
        for &i in &lane[from..] {
            if let Some(p) = prev {
                let g = self.gap(p, i);
                let silence = self.units[i].start_ms.saturating_sub(self.units[p].end_ms);
                if g.major || silence > PHRASE_MAX_GAP_MS {
                    break;
                }
            }
            if !self.free(i) {
                break;
            }
            let u = &self.units[i];
            let content = match &u.kind {
                Kind::Digits { digits: d, .. } => {
                    if digits + d.len() > spec.max_digits {
                        break;
                    }
                    digits += d.len();
                    true
                }
                Kind::Month(_) if spec.months => {
                    month = true;
                    true
                }
                Kind::Ordinal if spec.ordinals => {
                    ordinal = true;
                    true
                }
                Kind::Slash | Kind::Connector if spec.dates => false,
                Kind::Joiner => false,
                Kind::Currency => {
                    stopped_by_currency = true;
                    break;
                }
                _ => break,
            };
            prev = Some(i);
            if content {
                taken.append(&mut pending);
                taken.push(i);
                if u.pause == Pause::Strong {
                    break;
                }
            } else {
                pending.push(i);
            }
        }
        if stopped_by_currency && pending.is_empty() {
            return None;
        }
        (spec.accept)(digits, month, ordinal).then_some(taken)
    }

    /// A short number the card's reader says soon after the card (the agent's question may
    /// have been lost to speech-to-text): a security code, or an expiry date when it reads as
    /// one. At most the first two such numbers after each card.
    fn codes_after_cards(&mut self, card_detections: usize) {
        let cards: Vec<(Speaker, usize)> = self.detections[..card_detections]
            .iter()
            .filter(|d| d.class == DataClass::CardNumber)
            .filter_map(|d| {
                let last = *d.units.iter().max()?;
                Some((self.units[last].speaker, last))
            })
            .collect();
        for (speaker, last) in cards {
            let lane = &self.lanes[&speaker];
            let end_ms = self.units[last].end_ms;
            let mut seen = 0;
            let mut claims = Vec::new();
            for r in 0..self.runs.len() {
                let run = &self.runs[r];
                let first = run.units[0];
                if self.units[first].speaker != speaker
                    || self.lane_pos[first] <= self.lane_pos[last]
                    || self.units[first].start_ms > end_ms + AFTER_CARD_MS
                {
                    continue;
                }
                let n = run.digit_count(self.units);
                if run.units.iter().any(|&u| {
                    self.claims[u]
                        .is_some_and(|id| self.detections[id].class == DataClass::CardNumber)
                }) {
                    break;
                }
                if !(3..=6).contains(&n) {
                    continue;
                }
                seen += 1;
                if seen > 2 {
                    break;
                }
                if !run.units.iter().all(|&u| self.free(u)) {
                    continue;
                }
                let near_currency = |pos: Option<usize>| {
                    pos.and_then(|p| lane.get(p))
                        .is_some_and(|&x| self.units[x].kind == Kind::Currency)
                };
                let lp_first = self.lane_pos[first];
                let lp_last = self.lane_pos[*run.units.last().unwrap_or(&first)];
                if near_currency(lp_first.checked_sub(1)) || near_currency(Some(lp_last + 1)) {
                    continue;
                }
                let digits: String = run
                    .units
                    .iter()
                    .filter_map(|&u| self.units[u].digits())
                    .collect();
                let month_first = digits[..2]
                    .parse::<u8>()
                    .is_ok_and(|m| (1..=12).contains(&m));
                let class = if n >= 5 || (n == 4 && month_first) {
                    DataClass::ExpiryDate
                } else {
                    DataClass::SecurityCode
                };
                let class = if self.cfg.enabled(class) {
                    class
                } else if self.cfg.enabled(DataClass::SecurityCode) && n <= 4 {
                    DataClass::SecurityCode
                } else {
                    continue;
                };
                claims.push((class, run.units.clone()));
            }
            for (class, units) in claims {
                self.claim(class, units);
            }
        }
    }

    // ---- patterns ----------------------------------------------------------------------

    /// Units of one token, by index range.
    fn token_units(&self) -> Vec<Vec<usize>> {
        let mut by_token = vec![Vec::new(); self.tokens.len()];
        for (i, u) in self.units.iter().enumerate() {
            for units in &mut by_token[u.tok_first..=u.tok_last] {
                units.push(i);
            }
        }
        by_token
    }

    fn core(&self, t: usize) -> &str {
        let text = &self.tokens[t].text;
        &text[core_of(text).0]
    }

    /// `123-45-6789` (social security) or `12-34-56` (sort code) written as one token.
    fn hyphen_pattern(&mut self, class: DataClass, groups: &[usize]) {
        let by_token = self.token_units();
        let mut found = Vec::new();
        for (t, units) in by_token.into_iter().enumerate() {
            let core = self.core(t);
            let parts: Vec<&str> = core.split('-').collect();
            let fits = parts.len() == groups.len()
                && parts
                    .iter()
                    .zip(groups)
                    .all(|(p, &n)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()));
            if !fits || units.is_empty() || !units.iter().all(|&u| self.free(u)) {
                continue;
            }
            if class == DataClass::SocialSecurity
                && (parts[0] == "000"
                    || parts[0] == "666"
                    || parts[0].starts_with('9')
                    || parts[1] == "00"
                    || parts[2] == "0000")
            {
                continue;
            }
            found.push(units);
        }
        for units in found {
            self.claim(class, units);
        }
    }

    /// Written addresses (`a.b@example.co.uk`) and spoken ones ("john dot smith at example dot
    /// com").
    fn emails(&mut self) {
        let written = &self.patterns.email;
        let by_token = self.token_units();
        let mut found: Vec<Vec<usize>> = Vec::new();
        for (t, units) in by_token.iter().enumerate() {
            if written.is_match(self.core(t)) && units.iter().all(|&u| self.free(u)) {
                found.push(units.clone());
            }
        }
        const TLDS: &[&str] = &[
            "com", "net", "org", "uk", "co", "io", "de", "fr", "es", "it", "nl", "ie", "eu", "us",
            "ca", "au", "info", "biz", "me", "edu", "gov", "ac",
        ];
        const CONNECT: &[&str] = &["dot", "underscore", "dash", "hyphen", "period", "point"];
        let is_name = |u: &Unit| {
            matches!(u.kind, Kind::Word | Kind::Digits { .. })
                && !u.norm.is_empty()
                && u.norm != "at"
        };
        for at in 0..self.units.len() {
            let a = &self.units[at];
            if a.norm != "at" || at == 0 {
                continue;
            }
            let seg = a.seg;
            let same = |i: usize| self.units.get(i).filter(|u| u.seg == seg);
            // The domain: a token with dots ending in a known ending, or words joined by "dot".
            let mut end = None;
            if let Some(d) = same(at + 1) {
                let core = self.core(d.tok_first).to_lowercase();
                if core.contains('.') && TLDS.contains(&core.rsplit('.').next().unwrap_or_default())
                {
                    end = Some(at + 1);
                } else if is_name(d) {
                    let mut j = at + 1;
                    while let (Some(dot), Some(label)) = (same(j + 1), same(j + 2)) {
                        if dot.norm != "dot" || !is_name(label) {
                            break;
                        }
                        j += 2;
                        if TLDS.contains(&label.norm.as_str()) {
                            end = Some(j);
                        }
                    }
                }
            }
            let Some(end) = end else {
                continue;
            };
            let Some(first) = same(at - 1).filter(|u| is_name(u)).map(|_| at - 1) else {
                continue;
            };
            let mut start = first;
            while start >= 2 {
                match (same(start - 1), same(start - 2)) {
                    (Some(c), Some(n)) if CONNECT.contains(&c.norm.as_str()) && is_name(n) => {
                        start -= 2;
                    }
                    _ => break,
                }
            }
            if (start..=end).all(|u| self.free(u)) {
                found.push((start..=end).collect());
            }
        }
        found.sort();
        found.dedup();
        for units in found {
            if units.iter().all(|&u| self.free(u)) {
                self.claim(DataClass::Email, units);
            }
        }
    }

    /// Two letters, six digits and a letter A–D, in one token or spread over several
    /// ("AB 12 34 56 C", "A B one two three four five six C").
    fn national_insurance(&mut self) {
        let pattern = &self.patterns.national_insurance;
        const NOT_ISSUED: &[&str] = &["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"];
        let code = |u: &Unit| -> Option<String> {
            match &u.kind {
                Kind::Digits { digits, .. } => Some(digits.clone()),
                Kind::Word | Kind::Connector | Kind::Joiner
                    if !u.norm.is_empty()
                        && u.norm.len() <= 9
                        && u.norm.chars().all(|c| c.is_ascii_alphanumeric())
                        && (u.norm.len() <= 2 || u.norm.chars().any(|c| c.is_ascii_digit())) =>
                {
                    Some(u.norm.to_ascii_uppercase())
                }
                _ => None,
            }
        };
        let mut found = Vec::new();
        for lane in self.lanes.values() {
            let mut i = 0;
            while i < lane.len() {
                let mut s = String::new();
                let mut best = None;
                for j in i..lane.len().min(i + 9) {
                    if j > i && self.gap(lane[j - 1], lane[j]).major {
                        break;
                    }
                    let Some(c) = code(&self.units[lane[j]]).filter(|_| self.free(lane[j])) else {
                        break;
                    };
                    s.push_str(&c);
                    if s.len() > 9 {
                        break;
                    }
                    if pattern.is_match(&s) && !NOT_ISSUED.contains(&&s[..2]) {
                        best = Some(j);
                    }
                }
                if let Some(j) = best {
                    found.push(lane[i..=j].to_vec());
                    i = j + 1;
                } else {
                    i += 1;
                }
            }
        }
        for units in found {
            self.claim(DataClass::NationalInsurance, units);
        }
    }
}

/// What the data after a cue looks like.
struct PhraseSpec {
    max_digits: usize,
    months: bool,
    ordinals: bool,
    /// Slashes and "of"/"the" may sit inside it.
    dates: bool,
    accept: fn(usize, bool, bool) -> bool,
}

impl PhraseSpec {
    fn of(class: DataClass) -> PhraseSpec {
        let digits_only = |max_digits, accept| PhraseSpec {
            max_digits,
            months: false,
            ordinals: false,
            dates: false,
            accept,
        };
        match class {
            DataClass::SecurityCode => digits_only(4, |n, _, _| (3..=4).contains(&n)),
            DataClass::ExpiryDate => PhraseSpec {
                max_digits: 6,
                months: true,
                ordinals: false,
                dates: true,
                accept: |n, month, _| {
                    if month {
                        // "December 2020 8": whisper's "twenty twenty eight".
                        (2..=6).contains(&n)
                    } else {
                        (3..=6).contains(&n)
                    }
                },
            },
            DataClass::DateOfBirth => PhraseSpec {
                max_digits: 8,
                months: true,
                ordinals: true,
                dates: true,
                accept: |n, month, ordinal| {
                    (month && (n >= 1 || ordinal)) || (4..=8).contains(&n) || (ordinal && n >= 2)
                },
            },
            DataClass::SocialSecurity => digits_only(9, |n, _, _| n == 9),
            DataClass::BankAccount => digits_only(17, |n, _, _| (6..=17).contains(&n)),
            DataClass::SortCode => digits_only(6, |n, _, _| n == 6),
            // Found by pattern only; no phrase follows a cue.
            DataClass::CardNumber | DataClass::NationalInsurance | DataClass::Email => {
                digits_only(0, |_, _, _| false)
            }
        }
    }

    fn starts_with(&self, kind: &Kind) -> bool {
        match kind {
            Kind::Digits { .. } => true,
            Kind::Month(_) => self.months,
            Kind::Ordinal => self.ordinals,
            _ => false,
        }
    }
}
