//! The sample fleet `try` starts with: enough to show every feature, small enough to read.

use std::collections::HashMap;

use super::account::Account;
use super::budget::Budget;
use super::settings::{Entries, Extras, Logs, STAGE_KEY};
use super::traffic::{Demand, Synthetic};
use super::trail::{ACCOUNT, Recorded, outside};
use crate::domain::{
    AccountLimits, ApiKind, ApiMethod, Configured, HttpMethod, Level, ManagedBy, PlanStage,
    PlanView, Principal, ResourcePath, StageView, TrailCall,
};

/// The REST API `petstore`: stages `test` and `prod`.
pub const PETSTORE: &str = "a1b2c3d4e5";
/// The HTTP API `orders`: stage `prod`, routes `GET /orders`, `POST /orders` and `$default`.
pub const ORDERS: &str = "h1b2c3d4e5";
/// The REST API `payments`: stage `live`, deployed by CloudFormation.
pub const PAYMENTS: &str = "c1b2c3d4e5";

fn limits(rate: f64, burst: i32) -> Configured {
    Configured {
        rate: Some(rate),
        burst: Some(burst),
    }
}

fn method(method: &str, path: &str) -> Level {
    Level::method(
        HttpMethod::parse(method).expect("a sample method"),
        ResourcePath::parse(path).expect("a sample path"),
    )
}

fn stage(name: &str, kind: ApiKind, stage_wide: Configured) -> StageView {
    StageView {
        updated: None,
        stage: name.to_owned(),
        kind,
        stage_wide,
        ..StageView::default()
    }
}

/// The account as `try` finds it at `now` (Unix seconds): the last hour's traffic peaked 18
/// minutes ago on `petstore` `prod`.
pub fn sample(now: i64) -> Account {
    let entries = Entries::default();
    let on = Extras {
        metrics: true,
        caching: true,
        logs: Logs::Info,
    };
    let prod = stage("prod", ApiKind::Rest, limits(500.0, 1000));
    let petstore_prod = format!("{PETSTORE}/prod");
    entries.put(&petstore_prod, STAGE_KEY, on);
    let test = stage("test", ApiKind::Rest, limits(100.0, 200));

    let list_orders = method("GET", "/orders");
    let mut orders = stage("prod", ApiKind::Http, limits(300.0, 600));
    orders
        .methods
        .push((list_orders.clone(), limits(100.0, 200)));
    let orders_prod = format!("{ORDERS}/prod");
    let metrics = Extras {
        metrics: true,
        ..Extras::default()
    };
    entries.put(&orders_prod, STAGE_KEY, metrics.clone());
    entries.put(&orders_prod, "GET /orders", metrics);

    let mut live = stage("live", ApiKind::Rest, limits(200.0, 400));
    let stack = "payments-live".to_owned();
    live.tags
        .push(("aws:cloudformation:stack-name".to_owned(), stack.clone()));
    live.managed_by = Some(ManagedBy::CloudFormation { stack });

    let synthetic = Synthetic::new(vec![
        Demand {
            place: petstore_prod.clone(),
            base: 300.0,
            peak: 450.0,
            peak_at: now - 18 * 60,
            shares: vec![
                (method("GET", "/pets"), 0.55),
                (method("GET", "/pets/{id}"), 0.35),
                (method("POST", "/pets"), 0.08),
            ],
        },
        Demand {
            place: format!("{PETSTORE}/test"),
            base: 6.0,
            peak: 12.0,
            peak_at: now - 40 * 60,
            shares: Vec::new(),
        },
        Demand {
            place: orders_prod.clone(),
            base: 60.0,
            peak: 90.0,
            peak_at: now - 25 * 60,
            shares: vec![(list_orders.clone(), 0.7)],
        },
        Demand {
            place: format!("{PAYMENTS}/live"),
            base: 40.0,
            peak: 55.0,
            peak_at: now - 10 * 60,
            shares: Vec::new(),
        },
    ]);
    for (place, view) in [
        (&petstore_prod, &prod),
        (&orders_prod, &orders),
        (&format!("{PAYMENTS}/live"), &live),
        (&format!("{PETSTORE}/test"), &test),
    ] {
        synthetic.held(place, Level::Stage, view.stage_wide);
        for (level, values) in &view.methods {
            synthetic.held(place, level.clone(), *values);
        }
    }

    // What CloudTrail holds from before: a pipeline set prod, a person in the console set test.
    let trail = Recorded::default();
    let pipeline = Principal::Role {
        account: ACCOUNT.to_owned(),
        role: "deploy-pipeline".to_owned(),
        session: "terraform-apply".to_owned(),
    };
    let person = Principal::User {
        account: ACCOUNT.to_owned(),
        name: "alice".to_owned(),
    };
    let update = TrailCall::UpdateStage;
    let set = |values: Configured| outside(values);
    trail.record_by(
        PETSTORE,
        "test",
        (now - 3 * 3600, person, false),
        update,
        set(test.stage_wide),
    );
    trail.record_by(
        PETSTORE,
        "prod",
        (now - 50 * 60, pipeline, false),
        update,
        set(prod.stage_wide),
    );

    let api = |name: &str, stages: Vec<StageView>| {
        let stages = stages.into_iter().map(|s| (s.stage.clone(), s)).collect();
        (name.to_owned(), stages)
    };
    let apis = HashMap::from([
        (PETSTORE.to_owned(), api("petstore", vec![test, prod])),
        (ORDERS.to_owned(), api("orders", vec![orders])),
        (PAYMENTS.to_owned(), api("payments", vec![live])),
    ]);
    let methods = |listed: &[(&str, &str)]| -> Vec<ApiMethod> {
        listed.iter().map(|(m, p)| ApiMethod::new(m, p)).collect()
    };
    let api_methods = HashMap::from([
        (
            PETSTORE.to_owned(),
            methods(&[
                ("GET", "/pets"),
                ("POST", "/pets"),
                ("GET", "/pets/{id}"),
                ("DELETE", "/pets/{id}"),
            ]),
        ),
        (
            ORDERS.to_owned(),
            methods(&[("GET", "/orders"), ("POST", "/orders")]),
        ),
        (
            PAYMENTS.to_owned(),
            methods(&[("POST", "/payments"), ("GET", "/payments/{id}")]),
        ),
    ]);
    let gold = PlanView {
        id: "g0ld01".to_owned(),
        target: None,
        name: "gold".to_owned(),
        throttle: limits(100.0, 200),
        quota: Some("10000 requests a DAY".to_owned()),
        stages: vec![PlanStage {
            api: PETSTORE.to_owned(),
            stage: "prod".to_owned(),
            methods: Vec::new(),
        }],
        tags: Vec::new(),
        timed: Vec::new(),
        unsealed: Vec::new(),
    };
    Account {
        apis: std::sync::Mutex::new(apis),
        account: Some(AccountLimits {
            rate: 10_000.0,
            burst: 5_000,
        }),
        plans: std::sync::Mutex::new(vec![gold]),
        api_methods,
        synthetic: Some(synthetic),
        entries,
        budget: Some(Budget::api_gateway()),
        trail,
        ..Account::default()
    }
}
