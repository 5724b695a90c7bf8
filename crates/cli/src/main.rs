//! The `ordo` command line.

use clap::{Parser, Subcommand};

/// ordo: an order-management service with exact money and safe retries.
#[derive(Debug, Parser)]
#[command(name = "ordo", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (not built yet: prints the version and exits).
    Serve,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve => {
            // Honest placeholder until the API lands (issue #4).
            #[allow(clippy::print_stdout, reason = "the CLI talks to its user on stdout")]
            {
                println!(
                    "ordo {}: the HTTP server is not built yet; see README.md for what works today",
                    env!("CARGO_PKG_VERSION")
                );
            }
        }
    }
}
