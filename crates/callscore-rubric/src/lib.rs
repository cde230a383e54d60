//! Rubric format, compilation, evaluation with built-in behaviour detectors, and the rubric regression test runner.
