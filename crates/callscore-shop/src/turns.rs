//! Turn-taking: the shopper waits until the agent has stopped speaking, then says the next
//! line; after the last line and the agent's reply, it hangs up.
//!
//! The agent's turn is over when they have spoken (at least `min_speech`) since the shopper
//! started waiting and have then been silent for `silence` (about a second, as people take
//! it). If the agent says nothing, or talks on and on, the shopper speaks anyway after
//! `max_wait`. The whole call ends at `max_duration`.
//!
//! [`Conversation`] is the [`CallDriver`] of a placed call: every 20 ms it reads the audio heard
//! so far, runs the [`Vad`] over the new frames, and says what to send. It works on the call
//! clock only, so it is tested with synthetic audio and no network.

use crate::script::TurnSettings;
use crate::vad::{Vad, VadSettings, FRAME_MS, FRAME_SAMPLES};
use callscore_capture::uac::{CallDriver, Tick};
use std::time::Duration;

/// The far end's audio can lag the call clock by the jitter buffer's depth and the network;
/// audio missing for longer than this is taken as silence (a sender that stops sending in its
/// pauses, or a dead line).
const MISSING_AUDIO_IS_SILENCE_MS: u64 = 500;
/// Inactive frames shorter than this do not break a run of speech.
const RUN_GAP_MS: u64 = 100;

/// One line ready to speak.
#[derive(Debug, Clone, PartialEq)]
pub struct SpokenLine {
    /// 8 kHz mono.
    pub samples: Vec<i16>,
    pub max_wait_ms: Option<u64>,
    pub pause_ms: u64,
}

/// Why the shopper began a line (or hung up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cue {
    /// The agent spoke and then fell silent.
    AgentSilent,
    /// `max_wait` passed first.
    MaxWait,
    /// `max_duration` passed (hang-up only).
    MaxDuration,
}

/// One line as it was spoken, on the call clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Turn {
    /// Index into the script's lines.
    pub line: usize,
    pub start_ms: u64,
    pub end_ms: u64,
    /// How long the shopper waited for the agent before it.
    pub waited_ms: u64,
    pub cue: Cue,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Waiting {
        next: usize,
        since_ms: u64,
        /// The agent has spoken (a run of at least `min_speech`) since the wait began.
        spoke: bool,
        /// The current run of agent speech, and the inactive frames inside it so far (a run
        /// survives gaps under [`RUN_GAP_MS`], the dips between syllables).
        run_ms: u64,
        gap_ms: u64,
        /// Silence heard since the agent last spoke.
        silence_ms: u64,
        /// The turn is the shopper's; speak at this time (after the line's pause).
        speak_at: Option<(u64, Cue)>,
    },
    Speaking {
        line: usize,
        pos: usize,
        start_ms: u64,
        waited_ms: u64,
        cue: Cue,
    },
    Done,
}

/// The shopper's side of a call.
#[derive(Debug, Clone)]
pub struct Conversation {
    lines: Vec<SpokenLine>,
    turns: TurnSettings,
    max_duration_ms: u64,
    vad: Vad,
    /// Samples of the heard audio already analysed.
    analysed: usize,
    state: State,
    log: Vec<Turn>,
    hang_up: Option<(u64, Cue)>,
    agent_speech_ms: u64,
}

impl Conversation {
    pub fn new(lines: Vec<SpokenLine>, turns: TurnSettings, max_duration_ms: u64) -> Self {
        Conversation {
            lines,
            turns,
            max_duration_ms,
            vad: Vad::new(VadSettings::default()),
            analysed: 0,
            state: State::Waiting {
                next: 0,
                since_ms: 0,
                spoke: false,
                run_ms: 0,
                gap_ms: 0,
                silence_ms: 0,
                speak_at: None,
            },
            log: Vec::new(),
            hang_up: None,
            agent_speech_ms: 0,
        }
    }

    /// The lines spoken so far, in order.
    pub fn turns(&self) -> &[Turn] {
        &self.log
    }

    /// Whether every line was spoken to its end.
    pub fn finished_script(&self) -> bool {
        self.log.len() == self.lines.len()
    }

    /// When and why the shopper hung up (None: the call ended otherwise).
    pub fn hung_up(&self) -> Option<(u64, Cue)> {
        self.hang_up
    }

    /// Agent speech heard over the whole call, in ms (active VAD frames).
    pub fn agent_speech_ms(&self) -> u64 {
        self.agent_speech_ms
    }

    fn hear(&mut self, frame: &[i16]) {
        let active = self.vad.push(frame);
        if active {
            self.agent_speech_ms += FRAME_MS;
        }
        let min_speech = self.turns.min_speech_ms;
        if let State::Waiting {
            spoke,
            run_ms,
            gap_ms,
            silence_ms,
            ..
        } = &mut self.state
        {
            if active {
                *run_ms += FRAME_MS + *gap_ms;
                *gap_ms = 0;
                *silence_ms = 0;
                if *run_ms >= min_speech {
                    *spoke = true;
                }
            } else {
                *silence_ms += FRAME_MS;
                *gap_ms += FRAME_MS;
                if *gap_ms >= RUN_GAP_MS {
                    *run_ms = 0;
                    *gap_ms = 0;
                }
            }
        }
    }

    /// Runs the VAD over the audio heard since the last tick.
    fn listen(&mut self, at_ms: u64, heard: &[i16]) {
        while self.analysed + FRAME_SAMPLES <= heard.len() {
            let frame = &heard[self.analysed..self.analysed + FRAME_SAMPLES];
            self.analysed += FRAME_SAMPLES;
            self.hear(frame);
        }
        let expected = (at_ms.saturating_sub(MISSING_AUDIO_IS_SILENCE_MS) * 8) as usize;
        let silent = [0i16; FRAME_SAMPLES];
        while self.analysed + FRAME_SAMPLES <= expected {
            self.analysed += FRAME_SAMPLES;
            self.hear(&silent);
        }
    }

    /// The next frame at `at_ms` on the call clock, given everything heard so far.
    pub fn step(&mut self, at_ms: u64, heard: &[i16]) -> Tick {
        self.listen(at_ms, heard);
        if self.hang_up.is_some() {
            return Tick::HangUp;
        }
        if at_ms >= self.max_duration_ms {
            self.hang_up = Some((at_ms, Cue::MaxDuration));
            self.state = State::Done;
            return Tick::HangUp;
        }
        if let State::Waiting {
            next,
            since_ms,
            spoke,
            silence_ms,
            speak_at,
            ..
        } = &mut self.state
        {
            let next = *next;
            if speak_at.is_none() {
                let max_wait = self
                    .lines
                    .get(next)
                    .and_then(|l| l.max_wait_ms)
                    .unwrap_or(self.turns.max_wait_ms);
                let cue = if *spoke && *silence_ms >= self.turns.silence_ms {
                    Some(Cue::AgentSilent)
                } else if at_ms - *since_ms >= max_wait {
                    Some(Cue::MaxWait)
                } else {
                    None
                };
                if let Some(cue) = cue {
                    let pause = self.lines.get(next).map_or(0, |l| l.pause_ms);
                    *speak_at = Some((at_ms + pause, cue));
                }
            }
            match *speak_at {
                Some((when, cue)) if at_ms >= when => {
                    let waited_ms = at_ms - *since_ms;
                    if next >= self.lines.len() {
                        self.hang_up = Some((at_ms, cue));
                        self.state = State::Done;
                        return Tick::HangUp;
                    }
                    self.state = State::Speaking {
                        line: next,
                        pos: 0,
                        start_ms: at_ms,
                        waited_ms,
                        cue,
                    };
                }
                _ => return Tick::Silence,
            }
        }
        match &mut self.state {
            State::Speaking {
                line,
                pos,
                start_ms,
                waited_ms,
                cue,
            } => {
                let samples = &self.lines[*line].samples;
                let end = (*pos + FRAME_SAMPLES).min(samples.len());
                let frame = samples[*pos..end].to_vec();
                *pos = end;
                if *pos >= samples.len() {
                    let turn = Turn {
                        line: *line,
                        start_ms: *start_ms,
                        end_ms: at_ms + FRAME_MS,
                        waited_ms: *waited_ms,
                        cue: *cue,
                    };
                    self.log.push(turn);
                    self.state = State::Waiting {
                        next: turn.line + 1,
                        since_ms: at_ms + FRAME_MS,
                        spoke: false,
                        run_ms: 0,
                        gap_ms: 0,
                        silence_ms: 0,
                        speak_at: None,
                    };
                }
                if frame.is_empty() {
                    Tick::Silence
                } else {
                    Tick::Speak(frame)
                }
            }
            _ => Tick::Silence,
        }
    }
}

impl CallDriver for Conversation {
    fn tick(&mut self, at: Duration, heard: &[i16]) -> Tick {
        self.step(at.as_millis() as u64, heard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vad::synth::{noise, speech, Noise};

    /// The agent's side: (start_ms, end_ms) of speech over a noise floor, `total_ms` long.
    fn agent(spans: &[(u64, u64)], total_ms: u64, floor: f32) -> Vec<i16> {
        let mut rng = Noise::new(11);
        let mut out = Vec::new();
        let mut t = 0;
        for &(s, e) in spans {
            out.extend(noise(s - t, floor, &mut rng));
            out.extend(speech(e - s, -20.0, floor, &mut rng));
            t = e;
        }
        out.extend(noise(total_ms - t, floor, &mut rng));
        out
    }

    fn line(ms: u64) -> SpokenLine {
        SpokenLine {
            samples: vec![1000; (ms * 8) as usize],
            max_wait_ms: None,
            pause_ms: 0,
        }
    }

    /// Plays the agent's audio in real time (heard with a 160 ms lag, as through the jitter
    /// buffer) and runs the conversation until it hangs up or the audio ends.
    fn run(conv: &mut Conversation, agent: &[i16]) -> Option<u64> {
        let lag = 160 * 8;
        let mut at = 0u64;
        while (at * 8) as usize <= agent.len() + 20 * 8000 {
            let heard_to = ((at * 8) as usize).saturating_sub(lag).min(agent.len());
            if conv.step(at, &agent[..heard_to]) == Tick::HangUp {
                return Some(at);
            }
            at += FRAME_MS;
        }
        None
    }

    fn settings() -> TurnSettings {
        TurnSettings {
            silence_ms: 1000,
            max_wait_ms: 8000,
            min_speech_ms: 300,
        }
    }

    #[test]
    fn speaks_in_the_agents_pauses_and_hangs_up_after_the_reply() {
        for floor in [-90.0, -65.0, -46.0] {
            // Greeting 0.5–4 s (with a 0.6 s breath inside), reply 9.5–13 s, goodbye 17–19 s.
            let spans = [(500, 2000), (2600, 4000), (9500, 13000), (17000, 19000)];
            let audio = agent(&spans, 26_000, floor);
            let mut conv = Conversation::new(vec![line(3000), line(2000)], settings(), 120_000);
            let hung_up = run(&mut conv, &audio).expect("hangs up");
            let t = conv.turns();
            assert_eq!(t.len(), 2, "floor {floor}: {t:?}");
            // Not in the breath at 2–2.6 s; a second after the greeting ends (+ the 160 ms lag).
            assert!(
                (5000..=5400).contains(&t[0].start_ms),
                "floor {floor}: first line at {t:?}"
            );
            assert_eq!(t[0].cue, Cue::AgentSilent);
            assert!(
                (14000..=14400).contains(&t[1].start_ms),
                "floor {floor}: {t:?}"
            );
            assert!(
                (20000..=20400).contains(&hung_up),
                "floor {floor}: {hung_up}"
            );
            assert!(conv.finished_script());
            assert_eq!(conv.hung_up().map(|h| h.1), Some(Cue::AgentSilent));
            // The shopper's lines lie inside the agent's pauses.
            for turn in t {
                assert!(
                    spans
                        .iter()
                        .all(|&(s, e)| turn.end_ms <= s || turn.start_ms >= e),
                    "floor {floor}: {turn:?} overlaps the agent"
                );
            }
        }
    }

    #[test]
    fn a_silent_agent_gets_max_wait_then_the_line() {
        let audio = agent(&[], 20_000, -65.0);
        let mut conv = Conversation::new(vec![line(1000)], settings(), 120_000);
        let hung_up = run(&mut conv, &audio).unwrap();
        let t = conv.turns();
        assert_eq!((t[0].start_ms, t[0].cue), (8000, Cue::MaxWait));
        assert_eq!(t[0].waited_ms, 8000);
        // After the line, another max_wait for a reply that never comes.
        assert_eq!(hung_up, t[0].end_ms + 8000);
        assert_eq!(conv.hung_up().map(|h| h.1), Some(Cue::MaxWait));
    }

    #[test]
    fn an_agent_who_talks_on_is_interrupted_at_max_wait() {
        let audio = agent(&[(0, 15_000)], 20_000, -65.0);
        let mut s = settings();
        s.max_wait_ms = 6000;
        let mut conv = Conversation::new(vec![line(1000)], s, 120_000);
        run(&mut conv, &audio);
        assert_eq!(conv.turns()[0].start_ms, 6000);
        assert_eq!(conv.turns()[0].cue, Cue::MaxWait);
    }

    #[test]
    fn short_noise_bursts_do_not_count_as_the_agent_speaking() {
        // 100 ms bursts, under min_speech, every 2 s: the shopper waits for max_wait.
        let spans: Vec<(u64, u64)> = (1..5).map(|i| (i * 2000, i * 2000 + 100)).collect();
        let audio = agent(&spans, 12_000, -65.0);
        let mut conv = Conversation::new(vec![line(500)], settings(), 120_000);
        run(&mut conv, &audio);
        assert_eq!(conv.turns()[0].cue, Cue::MaxWait);
    }

    #[test]
    fn a_pause_delays_the_line_and_max_duration_ends_the_call() {
        let audio = agent(&[(0, 2000)], 30_000, -90.0);
        let mut first = line(20_000);
        first.pause_ms = 500;
        let mut conv = Conversation::new(vec![first, line(1000)], settings(), 10_000);
        let hung_up = run(&mut conv, &audio).unwrap();
        let t = conv.turns();
        assert!(t.is_empty(), "the long line never finished: {t:?}");
        assert_eq!(hung_up, 10_000);
        assert_eq!(conv.hung_up(), Some((10_000, Cue::MaxDuration)));
        assert!(!conv.finished_script());
        // The line started half a second after the turn was the shopper's.
        let mut conv = Conversation::new(vec![line(500)], settings(), 60_000);
        let mut with_pause = line(500);
        with_pause.pause_ms = 500;
        let mut paused = Conversation::new(vec![with_pause], settings(), 60_000);
        run(&mut conv, &audio);
        run(&mut paused, &audio);
        assert_eq!(paused.turns()[0].start_ms, conv.turns()[0].start_ms + 500);
    }

    #[test]
    fn missing_audio_counts_as_silence() {
        // The far end stops sending after its greeting (silence suppression): the shopper
        // still takes the turn, a little later than with audio.
        let audio = agent(&[(0, 2000)], 2000, -65.0);
        let mut conv = Conversation::new(vec![line(500)], settings(), 60_000);
        let mut at = 0;
        while conv.turns().is_empty() && at < 10_000 {
            let heard_to = ((at * 8) as usize).saturating_sub(1280).min(audio.len());
            conv.step(at, &audio[..heard_to]);
            at += FRAME_MS;
        }
        let start = conv.turns()[0].start_ms;
        assert!((3000..=3700).contains(&start), "{start}");
    }
}
