//! Rubric format, compilation, evaluation with built-in behaviour detectors, and the rubric
//! regression test runner.
//!
//! A rubric (TOML, see `rubrics/README.md`) lists criteria; each is a phrase check (`any`,
//! `all`, `none` lists of regular expressions) or a built-in detector (`check = "questions"`,
//! see [`DETECTORS`]). [`Rubric::from_path`] checks and compiles it, reporting every problem
//! with file, line and column; [`Rubric::evaluate`] scores a transcript, purely and
//! deterministically, into a [`Scorecard`](callscore_core::Scorecard) with evidence for every
//! verdict. [`testing`] runs rubric regression cases for CI.
//!
//! **Architecture invariant:** this crate knows nothing about audio, models or databases, and
//! evaluation never touches the file system: only loading rubrics, transcripts and test cases
//! reads files.
//!
//! ```
//! use callscore_core::{Segment, Speaker, Transcript};
//! use callscore_rubric::Rubric;
//!
//! let rubric = Rubric::from_toml_str(r#"
//!     id = "demo"
//!     pass_mark = 50
//!     [[criteria]]
//!     id = "greeting"
//!     check = "greeting"
//!     [[criteria]]
//!     id = "courtesy"
//!     critical = true
//!     speaker = "agent"
//!     none = ['(?i)\bcalm down\b']
//! "#, "demo.toml").unwrap();
//! let transcript = Transcript {
//!     segments: vec![Segment { speaker: Speaker::Agent, start_ms: 0, end_ms: 2_000,
//!                              text: "Good morning, Acme.".into(), ..Default::default() }],
//!     ..Default::default()
//! };
//! let card = rubric.evaluate(&transcript);
//! assert_eq!(card.score, 100.0);
//! assert!(card.passed);
//! ```

mod detectors;
pub mod duration;
mod edges;
mod error;
mod lang;
mod names;
mod names_zh;
mod phrases;
mod read;
pub mod render;
mod rubric;
mod scope;
mod spec;
pub mod testing;
mod text;
pub mod transcript;

pub use detectors::{DetectorInfo, DETECTORS};
pub use error::{Problem, ProblemKind, RubricError};
pub use lang::Language;
pub use rubric::{Criterion, Rubric, Section, DEFAULT_PASS_MARK, DEFAULT_WEIGHT};
pub use scope::{Who, Window};
