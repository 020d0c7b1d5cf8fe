//! `heartbeat-qos`: runs the QoS lab (the same as `heartbeat qos`).

use clap::Parser;

/// Measures failure detectors on generated or recorded heartbeat traces.
#[derive(Debug, Parser)]
#[command(name = "heartbeat-qos", version)]
struct Cli {
    #[command(flatten)]
    args: heartbeat_qos::QosArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let summary = heartbeat_qos::run(&cli.args)?;
    for file in &summary.files {
        eprintln!("wrote {}", file.display());
    }
    Ok(())
}
