//! The command grammar on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throttle_bot::core::grammar::parse_text;

fuzz_target!(|text: &str| {
    let _ = parse_text(text);
});
