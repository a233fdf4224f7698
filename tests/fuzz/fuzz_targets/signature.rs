//! The signature check on any headers and body: never panics, never accepts what it did not sign.
#![no_main]

use libfuzzer_sys::fuzz_target;
use throttle_bot::slack::signature::{SigningSecret, verify};

fuzz_target!(|input: (&[u8], &[u8], &[u8], i64)| {
    let (timestamp, signature, body, now) = input;
    let secret = SigningSecret::new("fuzz-secret").unwrap();
    let _ = verify(&secret, Some(timestamp), Some(signature), body, now);
});
