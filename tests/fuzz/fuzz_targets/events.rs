//! The Lambda event classifier on any JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throttle_bot::lambda::events::classify;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(event) = serde_json::from_slice(bytes) {
        let _ = classify(event);
    }
});
