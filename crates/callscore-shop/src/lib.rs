//! Mystery-shop calls: callscore phones the business itself, plays a scripted customer, records
//! both sides and hands the recording on to be scored like any call.
//!
//! - [`script`]: the shop script (TOML): scenario, persona, the lines in order; every mistake
//!   reported with file, line and column.
//! - [`speech`]: lines as 8 kHz audio, `say` lines spoken with espeak-ng, `audio` lines read
//!   with callscore-ingest.
//! - [`vad`] and [`turns`]: listening to the agent (voice activity against the line's own noise
//!   floor) and taking turns: speak when the agent has fallen silent, hang up after the reply.
//! - [`call`]: placing the call with the capture crate's SIP client and writing the stereo
//!   recording (agent left, shopper right) and its sidecar, or an attempt record when nobody
//!   answered.
//! - [`plan`] and [`ledger`]: programmes that spread calls over hours and weekdays,
//!   deterministically for a seed, and the record of which slots were placed, so none is placed
//!   twice.
//!
//! **Architecture invariant:** this crate places calls and writes recordings; it knows nothing
//! about transcription, rubrics' evaluation or the database (the binary scores what it writes,
//! through callscore-pipeline). It never prints, exits or reads the environment: the caller
//! passes the target, folders and the speech program.

pub mod call;
pub mod error;
pub mod ledger;
pub mod plan;
pub mod script;
pub mod speech;
pub mod turns;
pub mod vad;

pub use call::{place, AttemptRecord, ShopCall, ShopFiles, ShopOptions, ShopOutcome};
pub use error::{Problem, ShopError};
pub use ledger::{FileLedger, Ledger, LedgerEntry, LedgerError, MemoryLedger};
pub use plan::{Plan, Slot, SlotStatus};
pub use script::ShopScript;
pub use speech::Synthesizer;

use std::path::Path;
use time::OffsetDateTime;

/// Reads a script, renders its lines and places its call: [`ShopScript::from_path`],
/// [`speech::prepare_lines`] and [`call::place`] in one.
pub fn run_script(
    script_path: &Path,
    opts: &ShopOptions,
    synth: &Synthesizer,
) -> Result<ShopCall, ShopError> {
    let script = ShopScript::from_path(script_path)?;
    let lines = speech::prepare_lines(&script, synth)?;
    place(&script, lines, opts)
}

/// A slot of a programme run, and what came of it.
#[derive(Debug)]
pub struct SlotRun {
    pub slot: Slot,
    pub result: Result<ShopCall, ShopError>,
}

/// Places the calls of `plan` that are due at `now` and not in `ledger`, one after another.
/// Each slot is recorded in the ledger before it is dialled and again with its outcome;
/// `on_call` sees each one as it finishes (the binary scores the recording there). A slot whose
/// call cannot be made (its script no longer reads, no route) is recorded with the error and
/// not retried. `opts.to` is replaced by each slot's number.
pub fn run_due(
    plan: &Plan,
    now: OffsetDateTime,
    ledger: &mut dyn Ledger,
    opts: &ShopOptions,
    synth: &Synthesizer,
    on_call: &mut dyn FnMut(&SlotRun),
) -> Result<Vec<SlotRun>, ShopError> {
    let mut runs = Vec::new();
    for slot in plan.due(now, ledger)? {
        let scenario = &plan.scenarios[slot.scenario];
        let number = &plan.numbers[slot.number];
        let mut entry = LedgerEntry {
            slot: slot.id.clone(),
            scenario: scenario.id.clone(),
            to: number.to.clone(),
            scheduled: plan::rfc3339(slot.at),
            placed_at: plan::rfc3339(OffsetDateTime::now_utc()),
            outcome: None,
            call_id: None,
            file: None,
            error: None,
        };
        ledger.record(&entry)?;
        let mut slot_opts = opts.clone();
        slot_opts.to = number.to.clone();
        let result = run_script(&scenario.script, &slot_opts, synth);
        match &result {
            Ok(call) => {
                entry.outcome = Some(call.outcome.as_str().to_string());
                entry.call_id = call.meta.call_id.clone();
                entry.file = Some(match &call.files {
                    ShopFiles::Recording(w) => w.wav.display().to_string(),
                    ShopFiles::Attempt(p) => p.display().to_string(),
                });
            }
            Err(e) => entry.error = Some(e.to_string()),
        }
        ledger.record(&entry)?;
        let run = SlotRun { slot, result };
        on_call(&run);
        runs.push(run);
    }
    Ok(runs)
}
