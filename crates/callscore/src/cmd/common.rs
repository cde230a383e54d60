//! Options shared by several subcommands (model selection).
