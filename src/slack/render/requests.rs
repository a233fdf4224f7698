//! Messages that ask for a second step: a preview (Apply, Cancel), an approval request
//! (Approve, Reject), and a press that found the stage changed since.

use super::*;

/// The private preview of a risky change, with Apply and Cancel.
pub(super) fn preview(
    change: &ThrottleChange,
    planned: &Applied,
    risk: Option<Risk>,
    who: &ChatUser,
    buttons: Option<&Buttons>,
) -> Value {
    let why = match risk {
        Some(Risk::BlocksTraffic) => "it blocks traffic".to_owned(),
        Some(Risk::Cuts { what, from, to }) => {
            format!("it cuts the {what} from {from} to {to}, by more than half")
        }
        Some(Risk::BelowTraffic {
            peak,
            rate,
            rejected,
        }) => format!(
            "in the last hour {} peaked at {} (1-minute average); at {} about {} of that minute's requests would have been rejected",
            match &change.level {
                Level::Stage => "this stage".to_owned(),
                level => format!("`{level}`"),
            },
            per_second(peak),
            per_second(rate),
            percent(rejected)
        ),
        None => "the access policy asks to confirm changes here".to_owned(),
    };
    let (rate_line, burst_line) = transitions(change, planned);
    let text = format!(
        ":warning: *Confirm this change* ({why}): {}: rate {rate_line}; burst {burst_line}.\nIn plain words: {}. Nothing has been changed yet; this preview expires in 5 minutes.",
        target_of(change, &planned.api),
        plain_words(&planned.after),
    );
    let text = with_iac_warning(with_hold(text, change, planned), &planned.managed_by);
    let mut message = ephemeral(text);
    if let Some(buttons) = buttons {
        let change = pinned(change, &planned.api);
        let expires = unix_now() + PREVIEW_TTL_SECS;
        let apply = ButtonValue {
            break_glass: matches!(planned.approval, Approval::Skipped { .. }),
            ..value_of(Press::Apply, &change, who, &planned.before, &[])
        };
        let cancel = ButtonValue {
            press: Press::Cancel,
            ..apply.clone()
        };
        push_actions(
            &mut message,
            vec![
                buttons.button(apply, expires),
                buttons.button(cancel, expires),
            ],
        );
    }
    message
}

/// The request for approval, in the channel, with Approve and Reject.
pub(super) fn approval_request(
    change: &ThrottleChange,
    planned: &Applied,
    approvers: &[ChatId],
    who: &ChatUser,
    buttons: Option<&Buttons>,
) -> Value {
    let (rate_line, burst_line) = transitions(change, planned);
    let text = format!(
        ":raised_hand: *Approval needed:* <@{}> asks to change {}: rate {rate_line}; burst {burst_line}.\nApprovers: {}. Nothing has been changed yet; this request expires in 30 minutes.",
        who.user.as_str(),
        target_of(change, &planned.api),
        mentions(approvers),
    );
    let text = with_iac_warning(with_hold(text, change, planned), &planned.managed_by);
    let mut message = ephemeral(text);
    message["response_type"] = json!("in_channel");
    if let Some(buttons) = buttons {
        let change = pinned(change, &planned.api);
        let expires = unix_now() + APPROVAL_TTL_SECS;
        let approve = value_of(Press::Approve, &change, who, &planned.before, approvers);
        let reject = ButtonValue {
            press: Press::Reject,
            ..approve.clone()
        };
        push_actions(
            &mut message,
            vec![
                buttons.button(approve, expires),
                buttons.button(reject, expires),
            ],
        );
    }
    message
}

/// The level holds other values than the message showed: nothing applied.
pub(super) fn moved(
    change: &ThrottleChange,
    api: &crate::domain::ResolvedApi,
    expected: &Configured,
    found: &Configured,
    via: Via,
) -> Value {
    let what = match via {
        Via::Undo => "Nothing was undone",
        Via::Approve => "This request is closed and nothing was applied",
        Via::Apply | Via::Command => "Nothing was applied",
    };
    let mut message = ephemeral(format!(
        ":warning: {what}: {} now has {}, not the {} shown. Someone or something changed it since (throttle-bot keeps no history; the audit channel may say who). Run the command again if it is still needed.",
        target_of(change, api),
        limits(found),
        limits(expected),
    ));
    if via == Via::Approve {
        message["response_type"] = json!("in_channel");
    }
    message
}

/// A button value for `change`, from `who`, expecting `expect` at its level.
pub(super) fn value_of(
    press: Press,
    change: &ThrottleChange,
    who: &ChatUser,
    expect: &Configured,
    approvers: &[ChatId],
) -> ButtonValue {
    button_value(press, command_text(change), who, expect, approvers)
}

/// A button's value for the command `text`: who asked, where, and the values shown.
pub(super) fn button_value(
    press: Press,
    text: String,
    who: &ChatUser,
    expect: &Configured,
    approvers: &[ChatId],
) -> ButtonValue {
    ButtonValue {
        press,
        text,
        author: who.user.to_string(),
        channel: who.channel.as_ref().map(ToString::to_string),
        team: who.team.as_ref().map(ToString::to_string),
        expect: Some((expect.rate, expect.burst)),
        approvers: approvers.iter().map(ToString::to_string).collect(),
        break_glass: false,
    }
}

/// The change pinned to the resolved API's id, so a button acts on exactly that API.
pub(super) fn pinned(change: &ThrottleChange, api: &crate::domain::ResolvedApi) -> ThrottleChange {
    ThrottleChange {
        api: ApiRef::Id(api.id.clone()),
        ..change.clone()
    }
}

/// For a timed change's preview or approval request: how long it will last once applied.
/// For a change for good over timed changes: which end with it, and who set them, so that an
/// approver sees another person's timed change end.
pub(super) fn with_hold(text: String, change: &ThrottleChange, planned: &Applied) -> String {
    match (change.hold, planned.replaces_timed) {
        (Some(hold), _) => format!(
            "{text}\n:stopwatch: Timed: for {hold} from when it is applied, {}.",
            timed::then_back(&planned.steps)
        ),
        (None, Some(ended)) => format!(
            "{text}\n:stopwatch: {}",
            timed::replaces_all(ended, &planned.replaces_below)
        ),
        (None, None) => text,
    }
}
