//! SQLite store of calls, transcripts, scorecards and reviews, with versioned migrations.
