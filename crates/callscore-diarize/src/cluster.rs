//! Grouping window embeddings into speakers: average-linkage agglomerative clustering on cosine
//! distance, then a few k-means rounds so every window sits with its nearest centroid.
//!
//! Hand-written: the few clustering crates that build on this workspace's Rust either pull in a
//! linear-algebra stack (linfa, ndarray) for what is a distance matrix and a loop, or offer no
//! average linkage with the merge heights, which is how the number of speakers is chosen here.

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
    for (&x, &y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// The result of clustering: a label per window, the centroids (unit length), and the cosine
/// distance at which the last merges happened (`merge_heights[k]` joined k+1 clusters into k).
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    pub labels: Vec<usize>,
    pub centroids: Vec<Vec<f32>>,
    /// `merge_heights[0]`: the distance of the final merge (2 → 1 clusters), `[1]`: 3 → 2, …
    pub merge_heights: Vec<f32>,
}

impl Clustering {
    pub fn k(&self) -> usize {
        self.centroids.len()
    }

    /// Windows per cluster.
    pub fn sizes(&self) -> Vec<usize> {
        let mut n = vec![0; self.k()];
        for &l in &self.labels {
            n[l] += 1;
        }
        n
    }
}

/// How many speakers to accept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterOptions {
    /// Most speakers in one call (two people and a transfer or a recorded prompt).
    pub max_speakers: usize,
    /// Two groups are two speakers when average linkage joins them above this cosine distance.
    pub split_distance: f32,
    /// A third group must be at least this far from the others …
    pub third_distance: f32,
    /// … and hold at least this share of the windows.
    pub third_min_share: f32,
    /// Windows clustered by average linkage at most (a long call is subsampled evenly, then
    /// every window joins its nearest centroid): keeps the cost quadratic in a bounded number.
    pub max_linkage_windows: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            max_speakers: 3,
            split_distance: 0.3,
            third_distance: 0.45,
            third_min_share: 0.08,
            max_linkage_windows: 400,
        }
    }
}

/// Clusters embeddings into 1 to `max_speakers` speakers.
pub fn cluster(emb: &[Vec<f32>], opts: &ClusterOptions) -> Clustering {
    if emb.is_empty() {
        return Clustering {
            labels: vec![],
            centroids: vec![],
            merge_heights: vec![],
        };
    }
    let step = emb.len().div_ceil(opts.max_linkage_windows.max(2));
    let sample: Vec<usize> = (0..emb.len()).step_by(step.max(1)).collect();
    let (groups, heights) = average_linkage(emb, &sample, opts.max_speakers.max(1));

    // Choose k from the merge heights: the top merge must be high for two speakers, the next
    // one higher still (and big enough) for a third.
    let mut k = 1;
    if heights.first().is_some_and(|&h| h > opts.split_distance) {
        k = 2;
        if opts.max_speakers >= 3 && heights.get(1).is_some_and(|&h| h > opts.third_distance) {
            k = 3;
        }
    }
    let mut labels = assign_groups(emb, &sample, &groups[k.min(groups.len()) - 1]);
    let mut centroids = centroids_of(emb, &labels, k);
    for _ in 0..5 {
        let next: Vec<usize> = emb.iter().map(|e| nearest(e, &centroids)).collect();
        let changed = next != labels;
        labels = next;
        centroids = centroids_of(emb, &labels, k);
        if !changed {
            break;
        }
    }
    let mut out = Clustering {
        labels,
        centroids,
        merge_heights: heights,
    };
    // A third group too small to be a voice of its own is folded into its nearest neighbour.
    if out.k() == 3 {
        let sizes = out.sizes();
        let total = emb.len() as f32;
        if let Some(small) = (0..3).find(|&c| (sizes[c] as f32) < opts.third_min_share * total) {
            drop_cluster(emb, &mut out, small);
        }
    }
    // Empty clusters (k-means can empty one) are dropped too.
    while let Some(empty) = (0..out.k()).find(|&c| !out.labels.contains(&c)) {
        drop_cluster(emb, &mut out, empty);
    }
    order_by_first_appearance(&mut out);
    out
}

/// Runs average linkage over `sample` down to one cluster. Returns, for each k up to `max_k`,
/// the partition of `sample` into k groups, and the merge heights from the top.
fn average_linkage(
    emb: &[Vec<f32>],
    sample: &[usize],
    max_k: usize,
) -> (Vec<Vec<Vec<usize>>>, Vec<f32>) {
    let n = sample.len();
    let mut dist = vec![0f32; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let d = 1.0 - cosine(&emb[sample[i]], &emb[sample[j]]);
            dist[i * n + j] = d;
            dist[j * n + i] = d;
        }
    }
    let mut members: Vec<Option<Vec<usize>>> = (0..n).map(|i| Some(vec![i])).collect();
    let mut alive = n;
    let mut heights = Vec::new();
    let mut partitions: Vec<Vec<Vec<usize>>> = vec![Vec::new(); max_k];
    let snapshot = |members: &[Option<Vec<usize>>]| -> Vec<Vec<usize>> {
        members
            .iter()
            .flatten()
            .map(|m| m.iter().map(|&i| sample[i]).collect())
            .collect()
    };
    if alive <= max_k {
        partitions[alive - 1] = snapshot(&members);
    }
    while alive > 1 {
        let (mut bi, mut bj, mut best) = (0, 0, f32::INFINITY);
        for i in 0..n {
            if members[i].is_none() {
                continue;
            }
            for j in i + 1..n {
                if members[j].is_some() && dist[i * n + j] < best {
                    (bi, bj, best) = (i, j, dist[i * n + j]);
                }
            }
        }
        let (ni, nj) = (
            members[bi].as_ref().map_or(0, Vec::len) as f32,
            members[bj].as_ref().map_or(0, Vec::len) as f32,
        );
        // Lance–Williams update for average linkage.
        for m in 0..n {
            if m == bi || m == bj || members[m].is_none() {
                continue;
            }
            let d = (ni * dist[bi * n + m] + nj * dist[bj * n + m]) / (ni + nj);
            dist[bi * n + m] = d;
            dist[m * n + bi] = d;
        }
        let moved = members[bj].take().unwrap_or_default();
        if let Some(target) = members[bi].as_mut() {
            target.extend(moved);
        }
        alive -= 1;
        heights.push(best);
        if alive <= max_k {
            partitions[alive - 1] = snapshot(&members);
        }
    }
    heights.reverse();
    (partitions, heights)
}

/// Labels for every window from a partition of the sampled ones: sampled windows keep their
/// group, the rest join the nearest group centroid.
fn assign_groups(emb: &[Vec<f32>], sample: &[usize], groups: &[Vec<usize>]) -> Vec<usize> {
    let mut labels = vec![usize::MAX; emb.len()];
    for (g, members) in groups.iter().enumerate() {
        for &i in members {
            labels[i] = g;
        }
    }
    if sample.len() < emb.len() {
        let centroids = centroids_of(emb, &labels, groups.len());
        for (i, l) in labels.iter_mut().enumerate() {
            if *l == usize::MAX {
                *l = nearest(&emb[i], &centroids);
            }
        }
    }
    labels
}

/// Mean silhouette of a clustering (−1…1, cosine distance): for each window, how much nearer
/// it is to its own cluster than to the nearest other, averaged. Near 0 when a voice was cut in
/// two by what was said; well above it when the clusters are different voices. At most
/// `max_windows` windows (evenly spread) are scored, so the cost stays bounded. 0 with fewer
/// than two clusters.
pub fn silhouette(emb: &[Vec<f32>], labels: &[usize], k: usize, max_windows: usize) -> f32 {
    if k < 2 || emb.len() < 2 {
        return 0.0;
    }
    let step = emb.len().div_ceil(max_windows.max(2)).max(1);
    let idx: Vec<usize> = (0..emb.len()).step_by(step).collect();
    let mut total = 0f32;
    let mut n = 0usize;
    for &i in &idx {
        let mut sum = vec![0f32; k];
        let mut cnt = vec![0usize; k];
        for &j in &idx {
            if i != j {
                sum[labels[j]] += 1.0 - cosine(&emb[i], &emb[j]);
                cnt[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if cnt[own] == 0 {
            continue;
        }
        let a = sum[own] / cnt[own] as f32;
        let b = (0..k)
            .filter(|&c| c != own && cnt[c] > 0)
            .map(|c| sum[c] / cnt[c] as f32)
            .fold(f32::INFINITY, f32::min);
        if b.is_finite() {
            total += (b - a) / a.max(b).max(1e-9);
            n += 1;
        }
    }
    if n == 0 {
        0.0
    } else {
        total / n as f32
    }
}

/// Unit-length mean of each cluster's (unit-length) members.
pub fn centroids_of(emb: &[Vec<f32>], labels: &[usize], k: usize) -> Vec<Vec<f32>> {
    let dim = emb.first().map_or(0, Vec::len);
    let mut c = vec![vec![0f32; dim]; k];
    for (e, &l) in emb.iter().zip(labels) {
        if l >= k {
            continue;
        }
        let norm = e.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        for (s, x) in c[l].iter_mut().zip(e) {
            *s += x / norm;
        }
    }
    for v in &mut c {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
    }
    c
}

/// Index of the most similar centroid.
pub fn nearest(e: &[f32], centroids: &[Vec<f32>]) -> usize {
    (0..centroids.len())
        .max_by(|&a, &b| cosine(e, &centroids[a]).total_cmp(&cosine(e, &centroids[b])))
        .unwrap_or(0)
}

fn drop_cluster(emb: &[Vec<f32>], c: &mut Clustering, gone: usize) {
    c.centroids.remove(gone);
    for (i, l) in c.labels.iter_mut().enumerate() {
        if *l == gone {
            *l = nearest(&emb[i], &c.centroids);
        } else if *l > gone {
            *l -= 1;
        }
    }
    let k = c.centroids.len();
    c.centroids = centroids_of(emb, &c.labels, k);
}

/// Renumbers clusters so that speaker 0 is the first heard, 1 the next, …
fn order_by_first_appearance(c: &mut Clustering) {
    let mut order: Vec<usize> = Vec::new();
    for &l in &c.labels {
        if !order.contains(&l) {
            order.push(l);
        }
    }
    let mut map = vec![0; c.k()];
    for (new, &old) in order.iter().enumerate() {
        map[old] = new;
    }
    c.labels.iter_mut().for_each(|l| *l = map[*l]);
    let mut centroids = vec![Vec::new(); c.k()];
    for (old, cen) in c.centroids.drain(..).enumerate() {
        centroids[map[old]] = cen;
    }
    c.centroids = centroids;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points around a few directions, with a deterministic jitter.
    fn around(dirs: &[(usize, [f32; 3])]) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        let mut seed = 7u32;
        for &(n, d) in dirs {
            for _ in 0..n {
                let v: Vec<f32> = d
                    .iter()
                    .map(|&x| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        x + ((seed >> 16) % 1000) as f32 / 1000.0 * 0.2 - 0.1
                    })
                    .collect();
                out.push(v);
            }
        }
        out
    }

    #[test]
    fn two_voices_make_two_clusters_in_order_of_appearance() {
        let emb = around(&[
            (10, [1.0, 0.0, 0.0]),
            (8, [0.0, 1.0, 0.0]),
            (6, [1.0, 0.0, 0.0]),
        ]);
        let c = cluster(&emb, &ClusterOptions::default());
        assert_eq!(c.k(), 2);
        assert!(c.labels[..10].iter().all(|&l| l == 0));
        assert!(c.labels[10..18].iter().all(|&l| l == 1));
        assert!(c.labels[18..].iter().all(|&l| l == 0));
        assert!(c.merge_heights[0] > 0.8, "{:?}", c.merge_heights);
    }

    #[test]
    fn one_voice_stays_one_cluster() {
        let emb = around(&[(20, [1.0, 0.5, 0.2])]);
        let c = cluster(&emb, &ClusterOptions::default());
        assert_eq!(c.k(), 1);
        assert!(c.merge_heights[0] < 0.1, "{:?}", c.merge_heights);
    }

    #[test]
    fn a_third_voice_needs_distance_and_mass() {
        let three = around(&[
            (10, [1.0, 0.0, 0.0]),
            (10, [0.0, 1.0, 0.0]),
            (5, [0.0, 0.0, 1.0]),
        ]);
        assert_eq!(cluster(&three, &ClusterOptions::default()).k(), 3);
        // One stray window in a third direction is not a third speaker.
        let stray = around(&[
            (20, [1.0, 0.0, 0.0]),
            (20, [0.0, 1.0, 0.0]),
            (1, [0.0, 0.0, 1.0]),
        ]);
        let c = cluster(&stray, &ClusterOptions::default());
        assert_eq!(c.k(), 2);
        let two_only = ClusterOptions {
            max_speakers: 2,
            ..Default::default()
        };
        assert_eq!(cluster(&three, &two_only).k(), 2);
    }

    #[test]
    fn long_inputs_are_subsampled_for_linkage_but_all_labelled() {
        let emb = around(&[(300, [1.0, 0.0, 0.0]), (300, [0.0, 1.0, 0.0])]);
        let opts = ClusterOptions {
            max_linkage_windows: 50,
            ..Default::default()
        };
        let c = cluster(&emb, &opts);
        assert_eq!(c.k(), 2);
        assert_eq!(c.sizes(), vec![300, 300]);
    }

    #[test]
    fn empty_input_has_no_clusters() {
        let c = cluster(&[], &ClusterOptions::default());
        assert_eq!(c.k(), 0);
    }
}
