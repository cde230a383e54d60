//! `callscore voice …`: enrol agents' voices, so that mono calls tell the agent by voice where
//! the words alone do not, and list the enrolled voices.
use super::common::{resolve_speaker_encoder, ModelArgs};
use crate::out::{errln, outln};
use anyhow::Context;
use callscore_core::Speaker;
use callscore_diarize::{AgentVoices, Diarizer, VoicePrint};
use callscore_ingest::LoadOptions;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum VoiceCommand {
    /// Make an agent's voice print from recordings of them: the agent leg of stereo calls, or
    /// mono recordings of the agent alone (a minute of reading is plenty; 20 s is the least).
    Enroll(EnrollArgs),
    /// List the enrolled voices in a folder.
    List(ListArgs),
}

#[derive(Args)]
pub struct EnrollArgs {
    /// Recordings of the agent: stereo calls (their agent channel is used, as the sidecar or
    /// --agent-channel says) or mono recordings of the agent alone.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The agent's name as the calls' sidecars give it (default: the name the recordings'
    /// sidecars give, when they all give the same one).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// The folder of voice prints (one JSON file per agent); created when missing.
    #[arg(long, value_name = "DIR", env = "CALLSCORE_AGENT_VOICES")]
    pub agent_voices: PathBuf,
    /// Which stereo channel is the agent (default: the sidecar's agent_channel, else left).
    #[arg(long, value_name = "left|right")]
    pub agent_channel: Option<callscore_core::AgentChannel>,
    /// Where installed models live (default: the XDG cache, ~/.cache/callscore/models).
    #[arg(long, value_name = "DIR", env = "CALLSCORE_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct ListArgs {
    /// The folder of voice prints.
    #[arg(long, value_name = "DIR", env = "CALLSCORE_AGENT_VOICES")]
    pub agent_voices: PathBuf,
}

pub fn run(c: VoiceCommand) -> anyhow::Result<ExitCode> {
    match c {
        VoiceCommand::Enroll(a) => enroll(a),
        VoiceCommand::List(a) => list(a),
    }
}

fn enroll(args: EnrollArgs) -> anyhow::Result<ExitCode> {
    let load = LoadOptions {
        agent_channel: args.agent_channel,
    };
    let mut agent = args.agent.clone();
    let mut tracks: Vec<(String, Vec<f32>)> = Vec::new();
    for path in &args.files {
        let mut rec = callscore_ingest::load(path, &load)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for w in &rec.warnings {
            errln!("warning: {}: {w}", path.display());
        }
        // The agent leg of a stereo call; the one leg of a mono recording (which must then be
        // the agent alone: `enrol` refuses a track with two voices of like share).
        let leg = rec
            .legs
            .iter()
            .position(|l| l.speaker == Speaker::Agent)
            .or_else(|| rec.legs.iter().position(|l| l.speaker == Speaker::Unknown))
            .with_context(|| format!("{} has no agent leg", path.display()))?;
        if args.agent.is_none() {
            match (&agent, &rec.meta.agent) {
                (None, Some(named)) => agent = Some(named.clone()),
                (Some(a), Some(named)) if !a.trim().eq_ignore_ascii_case(named.trim()) => {
                    anyhow::bail!(
                        "the sidecars name two agents ({a} and {named}, in {}): enrol one agent \
                         at a time, or name them with --agent",
                        path.display()
                    )
                }
                _ => {}
            }
        }
        tracks.push((
            path.display().to_string(),
            rec.legs.swap_remove(leg).samples,
        ));
    }
    let agent = agent.context(
        "no agent name: give --agent NAME (the recordings' sidecars do not name the agent)",
    )?;
    let models = ModelArgs {
        model_dir: args.model_dir.clone(),
        ..ModelArgs::default()
    };
    let diarizer = Diarizer::load(&resolve_speaker_encoder(&models)?)
        .context("loading the speaker encoder")?;
    let borrowed: Vec<(&str, &[f32])> = tracks
        .iter()
        .map(|(s, t)| (s.as_str(), t.as_slice()))
        .collect();
    let print = diarizer.enrol(&agent, &borrowed)?;
    std::fs::create_dir_all(&args.agent_voices)
        .with_context(|| format!("cannot create {}", args.agent_voices.display()))?;
    // Another file already holding this agent (a print saved under another spelling of the
    // name) would make the folder ambiguous: it is the one replaced.
    let existing = AgentVoices::load_dir(&args.agent_voices)
        .ok()
        .and_then(|v| v.of(&agent).map(|p| args.agent_voices.join(p.file_name())));
    let out = existing.unwrap_or_else(|| args.agent_voices.join(print.file_name()));
    let replaced = out.exists();
    print.save(&out)?;
    outln!(
        "{} {}'s voice: {:.0} s of speech from {} recording(s) → {}",
        if replaced { "re-enrolled" } else { "enrolled" },
        print.agent,
        print.speech_ms as f64 / 1000.0,
        print.sources.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let voices = AgentVoices::load_dir(&args.agent_voices)?;
    if voices.is_empty() {
        outln!(
            "no voice prints in {} (callscore voice enroll makes them)",
            args.agent_voices.display()
        );
    }
    for print in voices.iter() {
        outln!("{}", describe(print));
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(print: &VoicePrint) -> String {
    format!(
        "{}\t{:.0} s of speech\t{} recording(s)\t{}",
        print.agent,
        print.speech_ms as f64 / 1000.0,
        print.sources.len(),
        print.file_name()
    )
}
