//! Review pages over the store: flagged queue, call page with audio player and evidence, reviews.
