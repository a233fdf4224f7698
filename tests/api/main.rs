//! Black-box tests: the real binary on 127.0.0.1:0, a real moto server as AWS, and local
//! HTTP servers standing in for Slack's response_url and the audit webhook.

mod form;
mod helpers;
mod history;
mod home;
mod hostile_clients;
mod http_apis;
mod in_process;
mod interactivity;
mod layout;
mod runtime_api;

mod apply;
mod do_no_harm;
mod docs;
mod lambda;

mod operations;
mod operator;
mod picture;
mod plans;
mod policy;

mod rejected_requests;
mod shutdown;
mod slash_command;
mod socket_mode;
mod stale_records;
mod startup;
mod sweep;
mod targets;
mod timed;
mod traffic;
mod traffic_names;
mod try_it;
