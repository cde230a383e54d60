//! Benchmark crate: see benches/.
