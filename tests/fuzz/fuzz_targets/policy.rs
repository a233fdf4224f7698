//! The policy file loader on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throttle_bot::policy::parse;

fuzz_target!(|text: &str| {
    let _ = parse("fuzz.toml", text);
});
