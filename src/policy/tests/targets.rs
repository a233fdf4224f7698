//! Rules across accounts and regions (`targets`) and over usage plans (`plans`).

use super::*;

#[test]
fn a_rule_reaches_only_home_unless_it_names_targets() {
    let policy = parse(
        "t",
        r#"
[[rule]]
name = "home only"
users = ["*"]
apis = ["*"]
stages = ["*"]

[[rule]]
name = "prod"
users = ["U2CERLKJA"]
targets = ["prod", "home"]
apis = ["petstore"]
stages = ["*"]

[[rule]]
name = "every eu target"
users = ["U0EU00001"]
targets = ["eu-*"]
apis = ["*"]
stages = ["*"]
"#,
    )
    .unwrap();
    let who = |id: &str| user(id, Some("C0123ABC"), "T1");
    let decide = |who: &ChatUser, api: &str, name: &str| {
        let api = ResolvedApi {
            kind: Default::default(),
            id: ApiId::parse(api).unwrap(),
            name: Some(name.to_owned()),
        };
        policy
            .decide(who, ApiIdentity::Resolved(&api), &change("x prod 5 10"))
            .map(|allowed| allowed.rule)
    };
    // A rule without `targets` covers home only: adding a target widens nothing.
    assert_eq!(
        decide(&who("U0ANYONE1"), "a1b2c3d4e5", "orders").unwrap(),
        "home only"
    );
    let refused = decide(&who("U0ANYONE1"), "prod:a1b2c3d4e5", "orders").unwrap_err();
    assert!(refused.to_string().contains("prod:a1b2c3d4e5"), "{refused}");
    assert_eq!(
        decide(&who("U2CERLKJA"), "prod:a1b2c3d4e5", "petstore").unwrap(),
        "prod"
    );
    assert!(decide(&who("U2CERLKJA"), "prod:a1b2c3d4e5", "orders").is_err());
    assert!(decide(&who("U2CERLKJA"), "stage:a1b2c3d4e5", "petstore").is_err());
    assert_eq!(
        decide(&who("U0EU00001"), "eu-west:a1b2c3d4e5", "orders").unwrap(),
        "every eu target"
    );
    assert!(decide(&who("U0EU00001"), "us:a1b2c3d4e5", "orders").is_err());
    // As typed (`policy explain`), the target is the one typed.
    let typed = ApiRef::parse("prod:petstore").unwrap();
    let as_typed = policy.decide(
        &who("U2CERLKJA"),
        ApiIdentity::AsTyped(&typed),
        &change("prod:petstore prod 5 10"),
    );
    assert_eq!(as_typed.unwrap().rule, "prod");
    let typed = ApiRef::parse("prod:orders").unwrap();
    assert!(
        policy
            .decide(
                &who("U0ANYONE1"),
                ApiIdentity::AsTyped(&typed),
                &change("prod:orders prod 5 10")
            )
            .is_err()
    );
    // A sweep reaches a target's APIs only through a rule that names the target.
    assert!(policy.reaches(None, &["z9z9z9z9z9"]));
    let prod = TargetAlias::parse("prod").unwrap();
    assert!(!policy.reaches(prod.as_ref(), &["z9z9z9z9z9"]));
    assert!(policy.reaches(prod.as_ref(), &["z9z9z9z9z9", "petstore"]));
    // The rule says which targets it reaches.
    let described = policy.describe().join("\n");
    assert!(described.contains("in target prod or home"), "{described}");
    assert!(
        !described.contains("home only\": anyone in any channel may change any API in target"),
        "{described}"
    );
}

#[test]
fn targets_in_a_rule_are_aliases_or_patterns() {
    let e = parse(
        "t",
        "[[rule]]\nusers = [\"*\"]\ntargets = [\"Prod\"]\napis = [\"*\"]\nstages = [\"*\"]\n",
    )
    .unwrap_err();
    assert!(e.reason.contains("not a target alias"), "{e}");
    let e = parse(
        "t",
        "[[rule]]\nusers = [\"*\"]\ntargets = []\napis = [\"*\"]\nstages = [\"*\"]\n",
    )
    .unwrap_err();
    assert!(e.reason.contains("`targets` is empty"), "{e}");
    assert!(
        parse(
            "t",
            "[[rule]]\nusers = [\"*\"]\ntargets = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\n"
        )
        .is_ok()
    );
}

#[test]
fn plans_are_reached_only_by_rules_that_list_them_within_bounds_with_their_gates() {
    let policy = parse(
        "t",
        r#"
[[rule]]
name = "stages"
users = ["*"]
apis = ["*"]
stages = ["*"]

[[rule]]
name = "bronze"
users = ["U2CERLKJA"]
plans = ["bronze-*", "abc123"]
max_rate = 50

[[rule]]
name = "gold needs approval"
users = ["*"]
targets = ["prod"]
plans = ["gold"]
approvers = ["U0LEAD0001"]
"#,
    )
    .unwrap();
    let who = |id: &str| user(id, Some("C0123ABC"), "T1");
    let set = |rate: &str| match parse_text(&format!("x prod {rate} 10")) {
        Ok(Request::Change(change)) => change.action,
        other => panic!("{other:?}"),
    };
    let decide = |user: &str, target: Option<&str>, names: &[&str], rate: &str| {
        let target = target.map(|t| TargetAlias::parse(t).unwrap().unwrap());
        policy.decide_plan(&who(user), target.as_ref(), names, &set(rate))
    };
    assert_eq!(
        decide("U2CERLKJA", None, &["xyz789", "bronze-eu"], "40")
            .unwrap()
            .rule,
        "bronze"
    );
    assert_eq!(
        decide("U2CERLKJA", None, &["abc123", "other"], "40")
            .unwrap()
            .rule,
        "bronze"
    );
    assert!(matches!(
        decide("U2CERLKJA", None, &["xyz789", "bronze-eu"], "60"),
        Err(Denial::OutOfBounds(_))
    ));
    // A rule for stages does not reach plans; a plan rule covers only its people and targets.
    let denied = decide("U0OTHER01", None, &["xyz789", "bronze-eu"], "40").unwrap_err();
    assert!(
        matches!(denied, Denial::NoRuleForPlan { ref plan, .. } if plan == "xyz789"),
        "{denied:?}"
    );
    assert!(decide("U2CERLKJA", Some("prod"), &["xyz789", "bronze-eu"], "40").is_err());
    // A rule's conditions come with it, as for stages.
    let gated = decide("U0OTHER01", Some("prod"), &["g1", "gold"], "40").unwrap();
    assert_eq!(gated.approvers, vec![ChatId::parse("U0LEAD0001").unwrap()]);
    let described = policy.describe().join("\n");
    assert!(
        described.contains("may change usage plan bronze-* or abc123; rate at most 50"),
        "{described}"
    );
    // A rule for plans only needs no apis or stages; one without plans still needs both.
    let e = parse(
        "t",
        "[[rule]]\nusers = [\"*\"]\nplans = [\"*\"]\nstages = [\"*\"]\n",
    )
    .unwrap_err();
    assert!(e.reason.contains("`apis` is missing"), "{e}");
}

#[test]
fn a_plan_change_no_rule_could_allow_is_refused_before_the_plan_is_read() {
    let policy = parse(
        "t",
        "[[rule]]\nname = \"stages\"\nusers = [\"*\"]\napis = [\"*\"]\nstages = [\"*\"]\n\n[[rule]]\nname = \"plans\"\nusers = [\"U2CERLKJA\"]\nplans = [\"*\"]\nmax_rate = 50\n",
    )
    .unwrap();
    let action = |rate: &str| match parse_text(&format!("x prod {rate} 10")) {
        Ok(Request::Change(change)) => change.action,
        other => panic!("{other:?}"),
    };
    let who = |id: &str| user(id, Some("C0123ABC"), "T1");
    assert!(
        policy
            .screen_plan(&who("U2CERLKJA"), None, &action("40"))
            .is_ok()
    );
    assert!(matches!(
        policy.screen_plan(&who("U2CERLKJA"), None, &action("60")),
        Err(Denial::OutOfBounds(_))
    ));
    assert!(matches!(
        policy.screen_plan(&who("U0OTHER01"), None, &action("40")),
        Err(Denial::NoRuleForPlan { .. })
    ));
    let prod = TargetAlias::parse("prod").unwrap();
    assert!(matches!(
        policy.screen_plan(&who("U2CERLKJA"), prod.as_ref(), &action("40")),
        Err(Denial::NoRuleForPlan { ref plan, .. }) if plan == "prod:*"
    ));
}
