//! Report responses as `yanpei_report::Table`s (sheets with Chinese headers), built once
//! here so the command line's `--xlsx` and the web dashboard produce the same tables.

pub mod pairs;
