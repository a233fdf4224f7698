//! An API Gateway account in memory: the `Gateway` port answered without AWS. The runner's
//! unit tests use it, and `throttle-bot try` runs the whole bot against its sample fleet.
//!
//! It follows `../shared/aws-facts.md` where that shows in what the bot says: a method's first
//! throttle creates a whole entry (AWS's defaults, and the stage's caching, logs and metrics
//! the adapter copies in), an HTTP API's route settings are one object, replaced whole and
//! deleted whole, and management calls share the account's budget (10 a second, bursts of 40;
//! past it, 429). Only `* *` and a concrete method and path are ever written: the grammar
//! refuses partial wildcards, which AWS stores and does not enforce. Nothing here leaves the
//! process.

mod account;
mod budget;
mod fleet;
mod settings;
mod traffic;
mod trail;

pub use account::{Account, NamedStages};
pub use budget::Budget;
pub use fleet::{ORDERS, PAYMENTS, PETSTORE, sample};
pub use settings::{Extras, Logs};
pub use traffic::{Demand, Synthetic};
