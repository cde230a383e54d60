//! Queries for the review pages: paginated, filtered and sorted call lists, per-agent trends,
//! review overrides. (Owned by the review-pages work; the batch/report queries are in `query`.)
