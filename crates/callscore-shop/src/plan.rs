//! Programmes: which scenarios to call, on which numbers, how many calls a week, spread over
//! which hours and weekdays (`PLAN.toml`; `shops/README.md` documents it).
//!
//! ```toml
//! id = "riverside-q1"
//! seed = 2026
//! start = 2026-01-05            # the first week starts on this day
//! weeks = 4
//! calls_per_week = 6
//! weekdays = ["mon", "tue", "wed", "thu", "fri", "sat"]
//! hours = ["09:00-12:30", "13:30-17:30"]
//! utc_offset = "+00:00"         # the clock `hours` are read on
//!
//! [[scenarios]]
//! script = "billing-question.toml"
//! weight = 2
//!
//! [[numbers]]
//! to = "sip:reception@192.0.2.10:5060"
//! name = "Reception"
//! ```
//!
//! The schedule is a pure function of the programme: each week's calls go into distinct
//! (weekday, hour) cells drawn at random from the allowed ones, at a random minute inside the
//! cell, so the calls vary over the day and the week rather than landing at 9:00 every Monday;
//! scenarios follow a shuffled bag of their weights (every scenario each week, when the week
//! has room for the bag) and numbers a shuffled bag of their own (each equally often). The generator is ChaCha8 seeded with `seed`
//! and one stream per week: the same programme gives the same schedule on every machine, and
//! adding weeks leaves the earlier weeks as they were.

use crate::error::{Problem, ShopError};
use crate::ledger::Ledger;
use crate::script::{valid_id, ShopScript};
use callscore_rubric::duration::parse_duration_ms;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};
use toml::Spanned;

/// A checked programme.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub origin: String,
    pub id: String,
    pub name: Option<String>,
    pub seed: u64,
    /// The first day of week 0.
    pub start: Date,
    pub weeks: u32,
    pub calls_per_week: u32,
    pub weekdays: Vec<Weekday>,
    /// Allowed times of day, minutes after midnight, [start, end).
    pub hours: Vec<(u16, u16)>,
    pub utc_offset: UtcOffset,
    /// A slot is due from its time until this much later; after that it is missed.
    pub grace_ms: u64,
    pub scenarios: Vec<PlanScenario>,
    pub numbers: Vec<PlanNumber>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanScenario {
    /// The script file, resolved against the programme's folder.
    pub script: PathBuf,
    /// The script's scenario id.
    pub id: String,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanNumber {
    pub to: String,
    pub name: Option<String>,
}

/// One scheduled call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Stable id for the ledger: `PLAN/SCENARIO/TIME`.
    pub id: String,
    pub at: OffsetDateTime,
    pub week: u32,
    /// Index into [`Plan::scenarios`].
    pub scenario: usize,
    /// Index into [`Plan::numbers`].
    pub number: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    id: Option<Spanned<String>>,
    name: Option<String>,
    seed: Option<Spanned<i64>>,
    start: Option<Spanned<toml::value::Datetime>>,
    weeks: Option<Spanned<i64>>,
    calls_per_week: Option<Spanned<i64>>,
    weekdays: Option<Spanned<Vec<Spanned<String>>>>,
    hours: Option<Spanned<Vec<Spanned<String>>>>,
    utc_offset: Option<Spanned<String>>,
    grace: Option<Spanned<String>>,
    scenarios: Option<Spanned<Vec<Spanned<RawScenario>>>>,
    numbers: Option<Spanned<Vec<Spanned<RawNumber>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    script: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNumber {
    to: Option<Spanned<String>>,
    name: Option<String>,
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.to_ascii_lowercase();
    let days = [
        ("mon", Weekday::Monday),
        ("tue", Weekday::Tuesday),
        ("wed", Weekday::Wednesday),
        ("thu", Weekday::Thursday),
        ("fri", Weekday::Friday),
        ("sat", Weekday::Saturday),
        ("sun", Weekday::Sunday),
    ];
    days.iter()
        .find(|(short, d)| s == *short || s == d.to_string().to_ascii_lowercase())
        .map(|(_, d)| *d)
}

fn parse_clock(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

fn parse_hours(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (parse_clock(a)?, parse_clock(b)?);
    (a < b).then_some((a, b))
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
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
}

impl Plan {
    /// Reads and checks a programme file, and the scripts it names (relative to its folder).
    pub fn from_path(path: &Path) -> Result<Plan, ShopError> {
        let text = std::fs::read_to_string(path).map_err(|source| ShopError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Plan::from_toml_str(&text, &path.display().to_string(), base)
    }

    pub fn from_toml_str(src: &str, origin: &str, base: &Path) -> Result<Plan, ShopError> {
        let mut c = Checker {
            origin,
            src,
            problems: Vec::new(),
        };
        let raw: RawPlan = match toml::from_str(src) {
            Ok(r) => r,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                c.problem(span, e.message().trim().to_string(), None);
                return Err(ShopError::Invalid {
                    problems: c.problems,
                });
            }
        };
        let top = 0..src.find('\n').unwrap_or(src.len());
        let id = match &raw.id {
            Some(id) if valid_id(id.get_ref()) => id.get_ref().clone(),
            Some(id) => {
                c.problem(
                    id.span(),
                    format!("`{}` is not a usable programme id", id.get_ref()),
                    Some("use letters, digits, '-', '_' and '.'"),
                );
                String::new()
            }
            None => {
                c.problem(top.clone(), "the programme has no `id`", None);
                String::new()
            }
        };
        let seed = match &raw.seed {
            Some(s) => *s.get_ref() as u64,
            None => {
                c.problem(
                    top.clone(),
                    "the programme has no `seed`",
                    Some("add e.g. `seed = 2026`: the same seed always gives the same schedule"),
                );
                0
            }
        };
        let start = match &raw.start {
            Some(s) => match (s.get_ref().date, s.get_ref().time) {
                (Some(d), None) => time::Month::try_from(d.month)
                    .ok()
                    .and_then(|m| Date::from_calendar_date(d.year as i32, m, d.day).ok()),
                _ => None,
            }
            .or_else(|| {
                c.problem(
                    s.span(),
                    "`start` must be a date",
                    Some("write e.g. `start = 2026-01-05` (no quotes, no time)"),
                );
                None
            }),
            None => {
                c.problem(top.clone(), "the programme has no `start` date", None);
                None
            }
        };
        let mut count =
            |v: &Option<Spanned<i64>>, key: &str, default: Option<u32>, max: i64| match v {
                Some(n) if (1..=max).contains(n.get_ref()) => *n.get_ref() as u32,
                Some(n) => {
                    c.problem(n.span(), format!("`{key}` must be 1 to {max}"), None);
                    1
                }
                None => default.unwrap_or_else(|| {
                    c.problem(top.clone(), format!("the programme has no `{key}`"), None);
                    1
                }),
            };
        let weeks = count(&raw.weeks, "weeks", Some(1), 520);
        let calls_per_week = count(&raw.calls_per_week, "calls_per_week", None, 500);
        let mut weekdays = Vec::new();
        match &raw.weekdays {
            None => weekdays.extend([
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ]),
            Some(list) if list.get_ref().is_empty() => {
                c.problem(list.span(), "`weekdays` is empty", None)
            }
            Some(list) => {
                for d in list.get_ref() {
                    match parse_weekday(d.get_ref()) {
                        Some(w) if !weekdays.contains(&w) => weekdays.push(w),
                        Some(_) => c.problem(d.span(), "this weekday is listed twice", None),
                        None => c.problem(
                            d.span(),
                            format!("`{}` is not a weekday", d.get_ref()),
                            Some("write \"mon\", \"tue\", … \"sun\""),
                        ),
                    }
                }
            }
        }
        let mut hours = Vec::new();
        match &raw.hours {
            None => hours.push((9 * 60, 17 * 60)),
            Some(list) if list.get_ref().is_empty() => {
                c.problem(list.span(), "`hours` is empty", None)
            }
            Some(list) => {
                for h in list.get_ref() {
                    match parse_hours(h.get_ref()) {
                        Some(range) if hours.iter().all(|&(a, b)| range.1 <= a || range.0 >= b) => {
                            hours.push(range)
                        }
                        Some(_) => c.problem(h.span(), "these hours overlap others listed", None),
                        None => c.problem(
                            h.span(),
                            format!("`{}` is not a span of hours", h.get_ref()),
                            Some("write e.g. \"09:00-12:30\" (24-hour clock, start before end)"),
                        ),
                    }
                }
                hours.sort();
            }
        }
        let utc_offset = match &raw.utc_offset {
            None => UtcOffset::UTC,
            Some(o) => parse_offset(o.get_ref()).unwrap_or_else(|| {
                c.problem(
                    o.span(),
                    format!("`{}` is not a UTC offset", o.get_ref()),
                    Some("write e.g. \"+01:00\" or \"-05:00\""),
                );
                UtcOffset::UTC
            }),
        };
        let grace_ms = match &raw.grace {
            None => 2 * 3_600_000,
            Some(g) => parse_duration_ms(g.get_ref()).unwrap_or_else(|e| {
                c.problem(g.span(), format!("bad duration for `grace`: {e}"), None);
                0
            }),
        };
        let mut scenarios = Vec::new();
        match &raw.scenarios {
            None => c.problem(
                top.clone(),
                "the programme has no `[[scenarios]]`",
                Some("add `[[scenarios]]` with `script = \"file.toml\"`"),
            ),
            Some(list) => {
                for s in list.get_ref() {
                    let span = s.span();
                    let s = s.get_ref();
                    let weight = match &s.weight {
                        None => 1,
                        Some(w) if (1..=100).contains(w.get_ref()) => *w.get_ref() as u32,
                        Some(w) => {
                            c.problem(w.span(), "`weight` must be 1 to 100", None);
                            1
                        }
                    };
                    let Some(script) = &s.script else {
                        c.problem(span, "a scenario has no `script`", None);
                        continue;
                    };
                    let path = base.join(script.get_ref());
                    match ShopScript::from_path(&path) {
                        Ok(loaded) => {
                            if scenarios.iter().any(|x: &PlanScenario| x.id == loaded.id) {
                                c.problem(
                                    script.span(),
                                    format!("scenario `{}` is listed twice", loaded.id),
                                    Some("give it one entry with a higher `weight`"),
                                );
                            }
                            scenarios.push(PlanScenario {
                                script: path,
                                id: loaded.id,
                                weight,
                            });
                        }
                        Err(ShopError::Read { source, .. }) => c.problem(
                            script.span(),
                            format!("cannot read {}: {source}", path.display()),
                            Some("`script` paths are relative to the programme's folder"),
                        ),
                        Err(e) => c.problem(
                            script.span(),
                            format!("the script {} is invalid:\n{e}", path.display()),
                            None,
                        ),
                    }
                }
            }
        }
        let mut numbers = Vec::new();
        match &raw.numbers {
            None => c.problem(
                top,
                "the programme has no `[[numbers]]`",
                Some("add `[[numbers]]` with `to = \"sip:…@host:port\"`"),
            ),
            Some(list) => {
                for n in list.get_ref() {
                    let span = n.span();
                    let n = n.get_ref();
                    match &n.to {
                        Some(to)
                            if callscore_capture::uac::resolve_target(to.get_ref()).is_ok() =>
                        {
                            numbers.push(PlanNumber {
                                to: to.get_ref().clone(),
                                name: n.name.clone(),
                            })
                        }
                        Some(to) => {
                            let why = callscore_capture::uac::resolve_target(to.get_ref())
                                .err()
                                .map(|e| e.to_string())
                                .unwrap_or_default();
                            c.problem(
                                to.span(),
                                why,
                                Some("write e.g. \"sip:reception@192.0.2.10:5060\""),
                            )
                        }
                        None => c.problem(span, "a number has no `to`", None),
                    }
                }
            }
        }
        if !c.problems.is_empty() {
            return Err(ShopError::Invalid {
                problems: c.problems,
            });
        }
        Ok(Plan {
            origin: origin.to_string(),
            id,
            name: raw.name,
            seed,
            start: start.unwrap_or_else(|| unreachable!("a missing start is a problem")),
            weeks,
            calls_per_week,
            weekdays,
            hours,
            utc_offset,
            grace_ms,
            scenarios,
            numbers,
        })
    }

    /// Every scheduled call of the programme, in time order.
    pub fn schedule(&self) -> Vec<Slot> {
        let mut slots = Vec::new();
        for week in 0..self.weeks {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(week as u64);
            // (day offset in the week, cell start minute, cell end minute), in calendar order.
            let mut cells: Vec<(u32, u16, u16)> = Vec::new();
            for day in 0..7u32 {
                let date = self.start + Duration::days((week * 7 + day) as i64);
                if !self.weekdays.contains(&date.weekday()) {
                    continue;
                }
                for &(from, to) in &self.hours {
                    let mut t = from;
                    while t < to {
                        let end = (t / 60 + 1) * 60;
                        cells.push((day, t, end.min(to)));
                        t = end;
                    }
                }
            }
            if cells.is_empty() {
                continue;
            }
            shuffle(&mut cells, &mut rng);
            let mut week_slots: Vec<(OffsetDateTime, u16)> = (0..self.calls_per_week as usize)
                .map(|i| {
                    let (day, from, to) = cells[i % cells.len()];
                    let minute = from + below(&mut rng, (to - from) as u64) as u16;
                    let date = self.start + Duration::days((week * 7 + day) as i64);
                    let time = Time::from_hms((minute / 60) as u8 % 24, (minute % 60) as u8, 0)
                        .unwrap_or(Time::MIDNIGHT);
                    // 24:00 is midnight of the next day.
                    let date = if minute >= 24 * 60 {
                        date + Duration::days(1)
                    } else {
                        date
                    };
                    (
                        PrimitiveDateTime::new(date, time).assume_offset(self.utc_offset),
                        minute,
                    )
                })
                .collect();
            week_slots.sort();
            week_slots.dedup_by_key(|(at, _)| *at);
            let mut bag: Vec<usize> = self
                .scenarios
                .iter()
                .enumerate()
                .flat_map(|(i, s)| std::iter::repeat_n(i, s.weight as usize))
                .collect();
            shuffle(&mut bag, &mut rng);
            // Numbers from a bag of their own, each equally often within the week, so which
            // number a scenario is tried on varies rather than following the calls' order.
            let rounds = week_slots.len().div_ceil(self.numbers.len()).max(1);
            let mut numbers: Vec<usize> = (0..rounds).flat_map(|_| 0..self.numbers.len()).collect();
            shuffle(&mut numbers, &mut rng);
            for (i, (at, _)) in week_slots.into_iter().enumerate() {
                let scenario = bag[i % bag.len()];
                let number = numbers[i];
                slots.push(Slot {
                    id: format!(
                        "{}/{}/{}",
                        self.id,
                        self.scenarios[scenario].id,
                        rfc3339(at)
                    ),
                    at,
                    week,
                    scenario,
                    number,
                });
            }
        }
        slots
    }

    /// The slots due at `now` that the ledger has not seen: scheduled at or before `now`, and
    /// not more than `grace` ago.
    pub fn due(&self, now: OffsetDateTime, ledger: &dyn Ledger) -> Result<Vec<Slot>, ShopError> {
        let grace = Duration::milliseconds(self.grace_ms as i64);
        let mut due = Vec::new();
        for slot in self.schedule() {
            if slot.at <= now && now < slot.at + grace && !ledger.is_placed(&slot.id)? {
                due.push(slot);
            }
        }
        Ok(due)
    }

    /// What became of each slot at `now`, for the printed schedule.
    pub fn status(
        &self,
        slot: &Slot,
        now: OffsetDateTime,
        ledger: &dyn Ledger,
    ) -> Result<SlotStatus, ShopError> {
        let grace = Duration::milliseconds(self.grace_ms as i64);
        Ok(if ledger.is_placed(&slot.id)? {
            SlotStatus::Placed
        } else if now < slot.at {
            SlotStatus::Upcoming
        } else if now < slot.at + grace {
            SlotStatus::Due
        } else {
            SlotStatus::Missed
        })
    }

    /// The schedule as a table, one call per line (what `callscore shop plan` prints).
    pub fn render(&self, slots: &[Slot], status: Option<&[SlotStatus]>) -> String {
        let mut out = format!(
            "programme {}{}: {} calls over {} week(s) from {}, seed {}\n",
            self.id,
            self.name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default(),
            slots.len(),
            self.weeks,
            self.start,
            self.seed
        );
        let width = self
            .scenarios
            .iter()
            .map(|s| s.id.len())
            .max()
            .unwrap_or(8)
            .max(8);
        for (i, s) in slots.iter().enumerate() {
            let number = &self.numbers[s.number];
            let day = &s.at.weekday().to_string()[..3];
            let at = s
                .at
                .format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute] [offset_hour sign:mandatory]:[offset_minute]"
                ))
                .unwrap_or_default();
            out.push_str(&format!(
                "week {:<2} {day} {at}  {:<width$}  {}",
                s.week + 1,
                self.scenarios[s.scenario].id,
                number.name.as_deref().unwrap_or(&number.to),
            ));
            if let Some(st) = status.and_then(|st| st.get(i)) {
                out.push_str(&format!("  {}", st.as_str()));
            }
            out.push('\n');
        }
        out
    }
}

/// Where a slot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotStatus {
    Upcoming,
    Due,
    Placed,
    /// Its time (and grace) passed without it being placed.
    Missed,
}

impl SlotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::Upcoming => "upcoming",
            SlotStatus::Due => "due",
            SlotStatus::Placed => "placed",
            SlotStatus::Missed => "missed",
        }
    }
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A number in `0..n`, from the top bits of one draw (Lemire's multiply; no modulo bias worth
/// the name for the small `n` here). Written out so the schedule depends only on ChaCha8's
/// output, not on a distribution's implementation in some version of `rand`.
fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    ((rng.next_u64() as u128 * n as u128) >> 64) as u64
}

/// Fisher–Yates, with [`below`].
fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{LedgerEntry, MemoryLedger};
    use time::macros::datetime;

    fn plan_in(dir: &Path, body: &str) -> Result<Plan, ShopError> {
        for id in ["billing-question", "new-customer-quote", "moving-home"] {
            std::fs::write(
                dir.join(format!("{id}.toml")),
                format!("id = \"{id}\"\nname = \"{id}\"\n[persona]\nname = \"P\"\n[[lines]]\nsay = \"Hello.\"\n"),
            )
            .unwrap();
        }
        Plan::from_toml_str(body, "PLAN.toml", dir)
    }

    const PLAN: &str = r#"
id = "riverside-q1"
name = "Riverside Energy, first quarter"
seed = 2026
start = 2026-01-05
weeks = 3
calls_per_week = 6
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat"]
hours = ["09:00-12:30", "13:30-17:30"]
utc_offset = "+01:00"

[[scenarios]]
script = "billing-question.toml"
weight = 2

[[scenarios]]
script = "new-customer-quote.toml"

[[scenarios]]
script = "moving-home.toml"

[[numbers]]
to = "sip:reception@192.0.2.10:5060"
name = "Reception"

[[numbers]]
to = "sip:sales@192.0.2.10:5060"
name = "Sales"
"#;

    #[test]
    fn the_schedule_is_a_golden_file() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), PLAN).unwrap();
        insta::assert_snapshot!(plan.render(&plan.schedule(), None));
    }

    #[test]
    fn calls_spread_over_allowed_days_and_hours_and_cover_every_scenario() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), PLAN).unwrap();
        let slots = plan.schedule();
        assert_eq!(slots.len(), 18);
        assert_eq!(slots, plan.schedule(), "deterministic");
        for week in 0..3 {
            let w: Vec<&Slot> = slots.iter().filter(|s| s.week == week).collect();
            assert_eq!(w.len(), 6);
            let mut cells: Vec<(Date, u8)> = w.iter().map(|s| (s.at.date(), s.at.hour())).collect();
            cells.sort();
            cells.dedup();
            assert_eq!(
                cells.len(),
                6,
                "no two calls of a week in the same hour of a day"
            );
            for id in 0..3 {
                assert!(
                    w.iter().any(|s| s.scenario == id),
                    "week {week} lacks scenario {id}"
                );
            }
        }
        for s in &slots {
            assert_ne!(s.at.weekday(), Weekday::Sunday);
            let minute = s.at.hour() as u16 * 60 + s.at.minute() as u16;
            assert!(
                plan.hours.iter().any(|&(a, b)| (a..b).contains(&minute)),
                "{} outside the hours",
                s.at
            );
            assert_eq!(s.at.offset(), UtcOffset::from_hms(1, 0, 0).unwrap());
        }
        let days: std::collections::HashSet<Weekday> =
            slots.iter().map(|s| s.at.weekday()).collect();
        let hours: std::collections::HashSet<u8> = slots.iter().map(|s| s.at.hour()).collect();
        assert!(days.len() >= 5 && hours.len() >= 5, "{days:?} {hours:?}");
        assert_eq!(slots.iter().filter(|s| s.number == 0).count(), 9);
        // Another seed, another schedule; more weeks leave the first ones alone.
        let other = plan_in(dir.path(), &PLAN.replace("seed = 2026", "seed = 7")).unwrap();
        assert_ne!(other.schedule(), slots);
        let longer = plan_in(dir.path(), &PLAN.replace("weeks = 3", "weeks = 5")).unwrap();
        assert_eq!(longer.schedule()[..18], slots[..]);
    }

    #[test]
    fn due_slots_are_those_in_their_grace_and_not_yet_placed() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_in(dir.path(), PLAN).unwrap();
        let slots = plan.schedule();
        let first = &slots[0];
        let mut ledger = MemoryLedger::default();
        assert!(plan
            .due(first.at - Duration::minutes(1), &ledger)
            .unwrap()
            .is_empty());
        let due = plan.due(first.at + Duration::minutes(5), &ledger).unwrap();
        assert_eq!(due, vec![first.clone()]);
        assert_eq!(
            plan.status(first, first.at - Duration::minutes(1), &ledger)
                .unwrap(),
            SlotStatus::Upcoming
        );
        assert_eq!(
            plan.status(first, first.at + Duration::hours(3), &ledger)
                .unwrap(),
            SlotStatus::Missed
        );
        ledger
            .record(&LedgerEntry {
                slot: first.id.clone(),
                scenario: "billing-question".into(),
                to: plan.numbers[first.number].to.clone(),
                scheduled: rfc3339(first.at),
                placed_at: rfc3339(first.at),
                outcome: None,
                call_id: None,
                file: None,
                error: None,
            })
            .unwrap();
        assert!(
            plan.due(first.at + Duration::minutes(5), &ledger)
                .unwrap()
                .is_empty(),
            "never twice"
        );
        assert_eq!(
            plan.status(first, first.at, &ledger).unwrap(),
            SlotStatus::Placed
        );
        // Long after: missed, not due (a call at the wrong time of day defeats the spread).
        assert!(plan
            .due(datetime!(2026-06-01 10:00 UTC), &ledger)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn mistakes_are_reported_with_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let bad = PLAN
            .replace("\"sat\"]", "\"sat\", \"funday\"]")
            .replace("\"13:30-17:30\"", "\"17:30-13:30\"")
            .replace("script = \"moving-home.toml\"", "script = \"missing.toml\"")
            .replace("sip:sales@192.0.2.10:5060", "sales desk");
        let err = plan_in(dir.path(), &bad).unwrap_err();
        let p = err.problems();
        let lines: Vec<(usize, &str)> = p.iter().map(|p| (p.line, p.message.as_str())).collect();
        assert_eq!(p.len(), 4, "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 8 && m.contains("`funday` is not a weekday")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 9 && m.contains("not a span of hours")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 20 && m.contains("cannot read")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 27 && m.contains("not a SIP URI")),
            "{lines:?}"
        );
    }
}
