// The whole service is one future under `main`; its layout nests every adapter's futures (the
// gateway per target, inside the runner, inside each mode), deeper than the default allows.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use throttle_bot::cli::{self, ApplyArgs, Cli, Command, LambdaArgs, PolicyCommand, TryArgs};
use throttle_bot::config::ServeConfig;
use throttle_bot::slack::manifest;
use throttle_bot::startup::{Application, shutdown_signal};
use throttle_bot::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // `try` talks on standard output; its log keeps to errors unless RUST_LOG says more.
    let filter = match cli.command {
        Some(Command::Try(_)) => "error",
        _ => telemetry::DEFAULT_FILTER,
    };
    telemetry::init_with(cli.log_format, filter);
    match cli.command {
        Some(Command::Serve(args)) => serve(ServeConfig::try_from(args)).await,
        Some(Command::Socket(args)) => serve(ServeConfig::try_from(args)).await,
        Some(Command::Apply(args)) => apply(args).await,
        Some(Command::Lambda(args)) => lambda(args).await,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => {
            // Lambda starts `bootstrap` with no arguments: read the same settings from the env.
            match Cli::try_parse_from(["throttle-bot", "lambda"]) {
                Ok(Cli {
                    command: Some(Command::Lambda(args)),
                    ..
                }) => lambda(args).await,
                _ => fail(&"could not read the Lambda settings"),
            }
        }
        Some(Command::Policy(command)) => policy_command(command),
        Some(Command::Manifest(args)) => match args.url.as_deref().map(manifest::render) {
            None => {
                print!("{}", manifest::socket_mode());
                ExitCode::SUCCESS
            }
            Some(rendered) => match rendered {
                Ok(manifest) => {
                    print!("{manifest}");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error),
            },
        },
        Some(Command::Try(args)) => try_here(args),
        Some(Command::Healthcheck(args)) => {
            match cli::healthcheck::probe(args.metrics_addr.unwrap_or(args.listen_addr)).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            }
        }
        None => {
            let _ = Cli::command().print_help();
            ExitCode::from(2)
        }
    }
}

/// `serve` and `socket`: the same service, reached over HTTP or through Socket Mode.
async fn serve(config: Result<ServeConfig, throttle_bot::config::ConfigError>) -> ExitCode {
    let config = match config {
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
    match cli::apply::run(args).await {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(reason) => fail(&reason),
    }
}

fn policy_command(command: PolicyCommand) -> ExitCode {
    match cli::policy::run(command) {
        Ok((text, allowed)) => {
            println!("{text}");
            if allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("throttle-bot: {error}");
            ExitCode::from(2)
        }
    }
}

async fn lambda(args: LambdaArgs) -> ExitCode {
    match throttle_bot::lambda::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// `try`: on a thread of its own, whose one-threaded runtime makes a scripted session print
/// the same transcript every time.
fn try_here(args: TryArgs) -> ExitCode {
    let policy = match throttle_bot::policy::PolicySource::from_settings(
        args.policy.file,
        args.policy.inline,
    ) {
        Ok(policy) => policy,
        Err(error) => return fail(&error),
    };
    match std::thread::spawn(move || throttle_bot::terminal::run(policy)).join() {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => fail(&error),
        Err(_) => ExitCode::FAILURE,
    }
}

fn fail(reason: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("throttle-bot: {reason}");
    ExitCode::FAILURE
}
