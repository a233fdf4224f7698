//! The slash-command form decoder on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throttle_bot::slack::form::SlashCommandForm;
use throttle_bot::slack::hosts::SlackHosts;

fuzz_target!(|body: &[u8]| {
    if let Ok(form) = SlashCommandForm::from_body(body) {
        let _ = form.requester(&SlackHosts::default());
    }
});
