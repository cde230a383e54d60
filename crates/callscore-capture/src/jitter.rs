//! A reordering jitter buffer for one RTP source (SSRC).
//!
//! Packets go in as they arrive; they come out in sequence-number order once the buffer holds more
//! than `depth` packets (or on [`JitterBuffer::drain`]). Sequence numbers are extended to 64 bits
//! so the 16-bit wrap-around (65535 → 0) keeps the order. Duplicates are dropped; a packet whose
//! turn has already passed is reported as late, so the caller can still use it (a recorder, unlike
//! a player, can write late audio into the silence left for it).

use std::collections::{BTreeMap, VecDeque};

/// What happened to a packet handed to [`JitterBuffer::push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed<T> {
    /// Queued; it will come out in order.
    Queued,
    /// Dropped: a packet with this sequence number was already seen.
    Duplicate,
    /// Its turn has passed (packets after it were released); here it is, with its extended number.
    Late(u64, T),
}

/// Extends 16-bit RTP sequence numbers to 64 bits across wrap-arounds (RFC 3550 appendix A.1),
/// relative to the highest number seen so far.
#[derive(Debug, Clone, Default)]
pub struct SequenceExtender {
    highest: Option<u64>,
}

impl SequenceExtender {
    pub fn extend(&mut self, seq: u16) -> u64 {
        let Some(highest) = self.highest else {
            // Start well above zero so a packet reordered before the first one stays positive.
            let ext = (1u64 << 32) + seq as u64;
            self.highest = Some(ext);
            return ext;
        };
        let delta = seq.wrapping_sub(highest as u16) as i16 as i64;
        let ext = (highest as i64 + delta) as u64;
        if ext > highest {
            self.highest = Some(ext);
        }
        ext
    }
}

/// Extends 32-bit RTP timestamps to 64 bits, relative to the newest timestamp seen.
#[derive(Debug, Clone, Default)]
pub struct TimestampExtender {
    highest: Option<u64>,
}

impl TimestampExtender {
    pub fn extend(&mut self, ts: u32) -> u64 {
        let Some(highest) = self.highest else {
            let ext = (1u64 << 40) + ts as u64;
            self.highest = Some(ext);
            return ext;
        };
        let delta = ts.wrapping_sub(highest as u32) as i32 as i64;
        let ext = (highest as i64 + delta) as u64;
        if ext > highest {
            self.highest = Some(ext);
        }
        ext
    }
}

/// How many recently released sequence numbers are remembered to tell duplicates from late
/// packets (about 20 s of 20 ms packets).
const RELEASED_MEMORY: usize = 1024;

#[derive(Debug)]
pub struct JitterBuffer<T> {
    depth: usize,
    sequence: SequenceExtender,
    queued: BTreeMap<u64, T>,
    /// Highest extended sequence number released so far.
    released_up_to: Option<u64>,
    recently_released: VecDeque<u64>,
}

impl<T> JitterBuffer<T> {
    /// `depth`: packets held back for reordering (e.g. 10 packets = 200 ms of 20 ms frames).
    pub fn new(depth: usize) -> Self {
        JitterBuffer {
            depth: depth.max(1),
            sequence: SequenceExtender::default(),
            queued: BTreeMap::new(),
            released_up_to: None,
            recently_released: VecDeque::new(),
        }
    }

    /// Queues a packet; returns what became of it. Released packets come from [`Self::pop_ready`].
    pub fn push(&mut self, seq: u16, packet: T) -> Pushed<T> {
        let ext = self.sequence.extend(seq);
        if self.queued.contains_key(&ext) || self.recently_released.contains(&ext) {
            return Pushed::Duplicate;
        }
        if self.released_up_to.is_some_and(|r| ext <= r) {
            self.remember(ext);
            return Pushed::Late(ext, packet);
        }
        self.queued.insert(ext, packet);
        Pushed::Queued
    }

    /// The next packet in order, once more than `depth` packets wait.
    pub fn pop_ready(&mut self) -> Option<(u64, T)> {
        if self.queued.len() > self.depth {
            self.pop_first()
        } else {
            None
        }
    }

    /// Every queued packet, in order (end of stream).
    pub fn drain(&mut self) -> Vec<(u64, T)> {
        let mut out = Vec::with_capacity(self.queued.len());
        while let Some(p) = self.pop_first() {
            out.push(p);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    fn pop_first(&mut self) -> Option<(u64, T)> {
        let (ext, packet) = self.queued.pop_first()?;
        self.released_up_to = Some(self.released_up_to.map_or(ext, |r| r.max(ext)));
        self.remember(ext);
        Some((ext, packet))
    }

    fn remember(&mut self, ext: u64) {
        if self.recently_released.len() == RELEASED_MEMORY {
            self.recently_released.pop_front();
        }
        self.recently_released.push_back(ext);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(depth: usize, seqs: &[u16]) -> (Vec<u16>, usize, Vec<u16>) {
        let mut jb = JitterBuffer::new(depth);
        let (mut out, mut dups, mut late) = (Vec::new(), 0, Vec::new());
        for &s in seqs {
            match jb.push(s, s) {
                Pushed::Queued => {}
                Pushed::Duplicate => dups += 1,
                Pushed::Late(_, p) => late.push(p),
            }
            while let Some((_, p)) = jb.pop_ready() {
                out.push(p);
            }
        }
        out.extend(jb.drain().into_iter().map(|(_, p)| p));
        (out, dups, late)
    }

    #[test]
    fn reorders_within_the_window() {
        let (out, dups, late) = run(4, &[1, 3, 2, 5, 4, 6, 8, 7, 9]);
        assert_eq!(out, vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!((dups, late.len()), (0, 0));
    }

    #[test]
    fn drops_duplicates_queued_or_already_released() {
        let (out, dups, _) = run(2, &[1, 2, 2, 3, 4, 5, 6, 1, 7]);
        assert_eq!(out, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(dups, 2);
    }

    #[test]
    fn keeps_order_across_the_16_bit_wrap() {
        let (out, _, _) = run(3, &[65533, 65535, 65534, 1, 0, 2, 3]);
        assert_eq!(out, vec![65533, 65534, 65535, 0, 1, 2, 3]);
    }

    #[test]
    fn loss_leaves_a_hole_and_late_packets_are_handed_back() {
        // 4 is lost; 3 arrives after its turn.
        let (out, _, late) = run(1, &[1, 2, 5, 6, 7, 3]);
        assert_eq!(out, vec![1, 2, 5, 6, 7]);
        assert_eq!(late, vec![3]);
    }

    #[test]
    fn sequence_extension_counts_wraps() {
        let mut x = SequenceExtender::default();
        let a = x.extend(65535);
        let b = x.extend(0);
        let c = x.extend(65534);
        assert_eq!(b, a + 1);
        assert_eq!(c, a - 1);
        let mut t = TimestampExtender::default();
        let a = t.extend(u32::MAX - 79);
        assert_eq!(t.extend(80), a + 160);
    }
}
