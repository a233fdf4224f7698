use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use throttle_bot::cli::{ApplyArgs, Cli, Command};
use throttle_bot::config::ServeConfig;
use throttle_bot::startup::{Application, shutdown_signal};
use throttle_bot::{apply, healthcheck, manifest, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    match cli.command {
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Apply(args)) => apply(args).await,
        Some(Command::Lambda(args)) => lambda(args.signing_secret, args.webhook_url).await,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => {
            lambda(
                std::env::var("SLACK_SIGNING_SECRET").ok(),
                std::env::var("SLACK_WEBHOOK_URL").ok(),
            )
            .await
        }
        Some(Command::Manifest(args)) => match manifest::render(&args.url) {
            Ok(manifest) => {
                print!("{manifest}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
        Some(Command::Healthcheck(args)) => match healthcheck::probe(args.listen_addr).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        },
        None => {
            let _ = Cli::command().print_help();
            ExitCode::from(2)
        }
    }
}

async fn serve(args: throttle_bot::cli::ServeArgs) -> ExitCode {
    let config = match ServeConfig::try_from(args) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) => return fail(&format!("cannot listen: {error}")),
    };
    match app.run_until_stopped(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("server error: {error}")),
    }
}

async fn apply(args: ApplyArgs) -> ExitCode {
    match apply::run(args).await {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(reason) => fail(&reason),
    }
}

async fn lambda(signing_secret: Option<String>, webhook_url: Option<String>) -> ExitCode {
    match throttle_bot::lambda::run(signing_secret, webhook_url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("Lambda runtime: {error}")),
    }
}

fn fail(reason: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("throttle-bot: {reason}");
    ExitCode::FAILURE
}
