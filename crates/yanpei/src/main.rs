//! `yanpei`: every part of the system behind one binary.
//!
//! `main` parses the command line, sets up tracing once and dispatches; the
//! work lives in the library crates.
#![allow(clippy::print_stdout)]

mod cmd;
mod errtext;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// yanpei (研培): a county's teacher research-and-training network.
#[derive(Debug, Parser)]
#[command(name = "yanpei", version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Plain)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Plain,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a demo county, record a semester at every school, sync, and print the totals.
    Demo(cmd::demo::Args),
    /// Run or set up the county hub.
    #[command(subcommand)]
    Hub(cmd::hub::Command),
    /// A school's node agent: record, list, sync, run nightly.
    #[command(subcommand)]
    Node(Box<cmd::node::Command>),
    /// The county roster: template, validate, import, export, show.
    #[command(subcommand)]
    Roster(cmd::roster::Command),
    /// Run seeded fault schedules against real hubs and nodes and check that nothing is lost or doubled.
    Soak(cmd::soak::Args),
    /// The county certificate authority.
    #[command(subcommand)]
    Ca(cmd::ca::Command),
    /// People's accounts (管理员, 教研员, 校长), on the hub machine against the hub's database.
    #[command(subcommand)]
    Account(cmd::account::Command),
    /// Log in to the hub with a username and password; saves a short-lived token for query/report.
    Login(cmd::login::Args),
    /// Ask the hub for county statistics and the sync ledger.
    #[command(subcommand)]
    Query(cmd::query::Command),
    /// The county's reports (quota compliance), from the hub; --json, --xlsx.
    #[command(subcommand)]
    Report(cmd::report::Command),
    /// Measure ingest, sync, bytes on the wire and memory against their baselines; write BENCHMARKS.md.
    Bench(cmd::bench::BenchArgs),
    /// Simulate many nodes syncing a night's batch against one hub process.
    Load(cmd::bench::LoadArgs),
}

fn init_tracing(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// `yanpei … | head` closes our stdout early: that ends the command quietly, as it does
/// for any Unix tool, instead of a panic about a broken pipe.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.contains("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    // Long-running services log their work; one-shot commands only warnings.
    let default = match &cli.command {
        Command::Hub(cmd::hub::Command::Serve(_)) => "info",
        Command::Node(c) if matches!(**c, cmd::node::Command::Run(_)) => "info",
        Command::Bench(_) | Command::Load(_) => "info,sea_orm_migration=warn,yanpei_node=warn",
        _ => "warn",
    };
    init_tracing(cli.log_format, default);
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a).await,
        Command::Hub(c) => cmd::hub::run(c).await,
        Command::Node(c) => cmd::node::run(*c).await,
        Command::Ca(c) => cmd::ca::run(c).await,
        Command::Account(c) => cmd::account::run(c).await,
        Command::Login(a) => cmd::login::run(a).await,
        Command::Roster(c) => cmd::roster::run(c).await,
        Command::Soak(a) => cmd::soak::run(a).await,
        Command::Query(c) => cmd::query::run(c).await,
        Command::Report(c) => cmd::report::run(c).await,
        Command::Bench(a) => cmd::bench::bench(a).await,
        Command::Load(a) => cmd::bench::load(a).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误：{}", errtext::human(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
