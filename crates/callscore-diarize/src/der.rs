//! Diarization error rate (NIST's definition, as md-eval and pyannote.metrics compute it): the
//! share of reference speech time that is missed, falsely detected or given to the wrong
//! speaker, under the best one-to-one mapping of hypothesis voices to reference speakers, with
//! a collar around every reference boundary left unscored. Overlapping speech counts once per
//! speaker. Used by the accuracy tests and the bench; evaluated on a 10 ms grid.

/// A labelled span: who (any small integer) from `start_ms` to `end_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub speaker: usize,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// The parts of the error, in ms of scored time.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DerReport {
    pub reference_ms: u64,
    pub missed_ms: u64,
    pub false_alarm_ms: u64,
    pub confusion_ms: u64,
}

impl DerReport {
    /// (missed + false alarm + confusion) / reference speech; 0 when there is no reference.
    pub fn der(&self) -> f64 {
        if self.reference_ms == 0 {
            return 0.0;
        }
        (self.missed_ms + self.false_alarm_ms + self.confusion_ms) as f64 / self.reference_ms as f64
    }
}

const STEP_MS: u64 = 10;

/// DER of `hypothesis` against `reference`, ignoring `collar_ms` on each side of every
/// reference boundary.
pub fn der(reference: &[Span], hypothesis: &[Span], collar_ms: u64) -> DerReport {
    let end = reference
        .iter()
        .chain(hypothesis)
        .map(|s| s.end_ms)
        .max()
        .unwrap_or(0);
    let n = (end / STEP_MS + 1) as usize;
    let speakers = |spans: &[Span]| spans.iter().map(|s| s.speaker + 1).max().unwrap_or(0);
    let (nr, nh) = (speakers(reference), speakers(hypothesis));
    let grid = |spans: &[Span], k: usize| {
        let mut g = vec![vec![false; k]; n];
        for s in spans {
            for cell in g
                .iter_mut()
                .take((s.end_ms / STEP_MS) as usize)
                .skip((s.start_ms / STEP_MS) as usize)
            {
                cell[s.speaker] = true;
            }
        }
        g
    };
    let (r, h) = (grid(reference, nr), grid(hypothesis, nh));
    let mut scored = vec![true; n];
    for s in reference {
        for b in [s.start_ms, s.end_ms] {
            let lo = (b.saturating_sub(collar_ms) / STEP_MS) as usize;
            let hi = (((b + collar_ms) / STEP_MS) as usize).min(n);
            scored[lo..hi].iter_mut().for_each(|x| *x = false);
        }
    }
    // Co-occurrence of hypothesis voice j with reference speaker i, for the mapping.
    let mut co = vec![vec![0u64; nh]; nr];
    for f in (0..n).filter(|&f| scored[f]) {
        for i in 0..nr {
            for j in 0..nh {
                if r[f][i] && h[f][j] {
                    co[i][j] += 1;
                }
            }
        }
    }
    let mapping = best_mapping(&co, nr, nh);
    let mut rep = DerReport::default();
    for f in (0..n).filter(|&f| scored[f]) {
        let n_ref = r[f].iter().filter(|&&x| x).count() as u64;
        let n_hyp = h[f].iter().filter(|&&x| x).count() as u64;
        let correct = (0..nh)
            .filter(|&j| h[f][j] && mapping[j].is_some_and(|i| r[f][i]))
            .count() as u64;
        rep.reference_ms += n_ref * STEP_MS;
        rep.missed_ms += n_ref.saturating_sub(n_hyp) * STEP_MS;
        rep.false_alarm_ms += n_hyp.saturating_sub(n_ref) * STEP_MS;
        rep.confusion_ms += (n_ref.min(n_hyp) - correct.min(n_ref.min(n_hyp))) * STEP_MS;
    }
    rep
}

/// The one-to-one map of hypothesis voices to reference speakers with the most shared time,
/// by trying every assignment (calls have a handful of voices).
fn best_mapping(co: &[Vec<u64>], nr: usize, nh: usize) -> Vec<Option<usize>> {
    fn go(
        j: usize,
        nh: usize,
        used: &mut Vec<bool>,
        cur: &mut Vec<Option<usize>>,
        co: &[Vec<u64>],
        best: &mut (u64, Vec<Option<usize>>),
    ) {
        if j == nh {
            let total: u64 = cur
                .iter()
                .enumerate()
                .filter_map(|(j, i)| i.map(|i| co[i][j]))
                .sum();
            if total > best.0 || best.1.is_empty() {
                *best = (total, cur.clone());
            }
            return;
        }
        cur[j] = None;
        go(j + 1, nh, used, cur, co, best);
        for i in 0..used.len() {
            if !used[i] {
                used[i] = true;
                cur[j] = Some(i);
                go(j + 1, nh, used, cur, co, best);
                used[i] = false;
                cur[j] = None;
            }
        }
    }
    let mut best = (0, Vec::new());
    go(
        0,
        nh,
        &mut vec![false; nr],
        &mut vec![None; nh],
        co,
        &mut best,
    );
    if best.1.is_empty() {
        vec![None; nh]
    } else {
        best.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(speaker: usize, start_ms: u64, end_ms: u64) -> Span {
        Span {
            speaker,
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn perfect_output_with_other_labels_scores_zero() {
        let r = [sp(0, 0, 1000), sp(1, 1000, 3000)];
        let h = [sp(1, 0, 1000), sp(0, 1000, 3000)];
        let rep = der(&r, &h, 0);
        assert_eq!(rep.der(), 0.0);
        assert_eq!(rep.reference_ms, 3000);
    }

    #[test]
    fn misses_false_alarms_and_confusion_add_up() {
        let r = [sp(0, 0, 2000), sp(1, 2000, 4000)];
        // 500 ms missed at the start, the second speaker's last second given to the first,
        // 500 ms of speech invented after the end.
        let h = [sp(0, 500, 2000), sp(1, 2000, 3000), sp(0, 3000, 4500)];
        let rep = der(&r, &h, 0);
        assert_eq!(
            (rep.missed_ms, rep.false_alarm_ms, rep.confusion_ms),
            (500, 500, 1000)
        );
        assert!((rep.der() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn the_collar_forgives_boundaries_and_overlap_counts_twice() {
        let r = [sp(0, 0, 2000), sp(1, 1800, 4000)];
        let h = [sp(0, 0, 2200), sp(1, 2200, 4000)];
        assert!(der(&r, &h, 0).der() > 0.0);
        assert_eq!(der(&r, &h, 250).der(), 0.0);
        // Overlap the hypothesis misses: 200 ms of the second speaker during the first.
        let rep = der(&r, &[sp(0, 0, 2000), sp(1, 2000, 4000)], 0);
        assert_eq!((rep.missed_ms, rep.reference_ms), (200, 4200));
    }
}
