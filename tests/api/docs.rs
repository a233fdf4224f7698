//! The documentation against the code: the configuration reference lists every setting each
//! mode reads (from the command line's own definitions), and every relative link resolves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use throttle_bot::cli::Cli;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The part of `text` under the heading `## \`mode\``, up to the next `## `.
fn section<'a>(text: &'a str, mode: &str) -> &'a str {
    let heading = format!("\n## `{mode}`\n");
    let start = text
        .find(&heading)
        .unwrap_or_else(|| panic!("docs/configuration.md has no section {heading:?}"))
        + heading.len();
    let rest = &text[start..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// Table rows as (variable, flag cell, default cell).
fn rows(section: &str) -> Vec<(String, String, String)> {
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert!(cells.len() >= 4, "a row needs four cells: {line}");
            (
                cells[0].trim_matches('`').to_owned(),
                cells[1].to_owned(),
                cells[2].to_owned(),
            )
        })
        .collect()
}

/// What a mode reads outside the command line's definitions, with where it is read.
fn read_outside_clap(mode: &str) -> Vec<&'static str> {
    // The AWS SDK's own settings (aws-config) and the log filter (telemetry::init), for every
    // mode that calls AWS; AWS_ENDPOINT_URL_API_GATEWAY is read by aws::connection.
    let aws = [
        "RUST_LOG",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_API_GATEWAY",
    ];
    match mode {
        "serve" | "socket" => aws.to_vec(),
        // scheduled::KEYS fall back to the environment (cli::apply), as do the alarm's limits
        // and the function's own name (lambda).
        "lambda" => [
            &aws[..],
            &throttle_bot::scheduled::KEYS[..],
            &[
                "ALARM_RATE_LIMIT",
                "ALARM_BURST_LIMIT",
                "ALARM_DURATION",
                "AWS_LAMBDA_FUNCTION_NAME",
            ][..],
        ]
        .concat(),
        "apply" => [&aws[..], &throttle_bot::scheduled::KEYS[..]].concat(),
        _ => vec![],
    }
}

#[test]
fn configuration_reference_lists_every_setting_of_every_mode() {
    let doc = read("docs/configuration.md");
    let mut cli = Cli::command();
    cli.build();
    for mode in cli.get_subcommands() {
        let name = mode.get_name();
        if name == "help" {
            continue;
        }
        let section = section(&doc, name);
        let rows = rows(section);
        let leaves: Vec<&clap::Command> = if mode.has_subcommands() {
            mode.get_subcommands().collect()
        } else {
            vec![mode]
        };
        let mut flags = BTreeSet::new();
        let mut variables: BTreeSet<String> = read_outside_clap(name)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for arg in leaves.iter().flat_map(|leaf| leaf.get_arguments()) {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let flag = format!("`--{long}`");
            assert!(
                section.contains(&flag),
                "docs/configuration.md, `{name}`: {flag} is not documented"
            );
            flags.insert(long.to_owned());
            let Some(env) = arg.get_env() else { continue };
            let env = env.to_string_lossy().into_owned();
            let row = rows
                .iter()
                .find(|(variable, ..)| *variable == env)
                .unwrap_or_else(|| panic!("docs/configuration.md, `{name}`: no row for {env}"));
            assert!(
                row.1.contains(&flag),
                "`{name}`: {env} is set by {flag}, the reference says {}",
                row.1
            );
            for default in arg.get_default_values() {
                let default = format!("`{}`", default.to_string_lossy());
                assert!(
                    row.2.contains(&default),
                    "`{name}`: {env} defaults to {default}, the reference says {}",
                    row.2
                );
            }
            variables.insert(env);
        }
        for (variable, flag, _) in &rows {
            assert!(
                variables.contains(variable)
                    || flags.iter().any(|f| flag.contains(&format!("`--{f}`"))),
                "docs/configuration.md, `{name}`: {variable} is not read by this mode"
            );
        }
        for variable in read_outside_clap(name) {
            assert!(
                rows.iter().any(|(v, ..)| v == variable),
                "docs/configuration.md, `{name}`: no row for {variable}"
            );
        }
    }
    let rust_log = rows(section(&doc, "serve"))
        .into_iter()
        .find(|(v, ..)| v == "RUST_LOG")
        .expect("RUST_LOG");
    assert!(
        rust_log.2.contains(throttle_bot::telemetry::DEFAULT_FILTER),
        "RUST_LOG's default is {}",
        throttle_bot::telemetry::DEFAULT_FILTER
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.insert(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut files = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
                continue;
            }
            let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
            let resolved: PathBuf = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap_or(Path::new(".")).join(path)
            };
            if !resolved.exists() {
                broken.push(format!("{}: {target} (no such file)", file.display()));
                continue;
            }
            if !fragment.is_empty() && resolved.extension().is_some_and(|e| e == "md") {
                let linked = std::fs::read_to_string(&resolved).unwrap();
                if !anchors(&linked).contains(fragment) {
                    broken.push(format!("{}: {target} (no such heading)", file.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Issue 32, item 14: a person's change is serialised per process only, so the supported
/// topology is one replica; every deployment example the docs give must say so.
#[test]
fn every_deployment_example_runs_one_replica() {
    let deploy = read("docs/deploy.md");
    assert!(deploy.contains("**Run one replica**"), "the rule is stated");
    let replicas: Vec<&str> = deploy
        .lines()
        .filter(|line| line.trim_start().starts_with("replicas:"))
        .collect();
    assert!(!replicas.is_empty());
    for line in replicas {
        assert!(line.contains("replicas: 1"), "{line}");
    }
    assert!(
        deploy.contains("type: Recreate"),
        "no surge of a second replica"
    );
    assert!(
        deploy.contains(r#""minimumHealthyPercent": 0, "maximumPercent": 100"#),
        "ECS stops the old task before it starts the new one"
    );
    assert!(
        !deploy.contains("SWEEP_APIS, value") && !deploy.contains(r#""name": "SWEEP_APIS""#),
        "the examples keep the sweep's lease, which notices a second replica"
    );
    assert!(!read("docs/operations.md").contains("more are safe"));
}
