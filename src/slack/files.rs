//! Slack's file upload flow (`files.upload` is retired): `files.getUploadURLExternal` for a
//! one-time URL, the bytes posted there, then `files.completeUploadExternal` shares the file in
//! a channel or thread. The upload URL must be one of Slack's file hosts: the bytes never go
//! anywhere else, and the bot token never goes there at all.

use serde_json::{Value, json};

use super::hosts::SlackHosts;
use super::web_api::{Body, WebApi};
use crate::core::ports::TellError;

/// Where Slack's upload URLs point (GovSlack has its own).
pub const UPLOAD_HOSTS: [&str; 2] = ["files.slack.com", "files.slack-gov.com"];

/// One PNG to share: its file name, title (also the alt text) and the message it comes with.
pub struct Png<'a> {
    pub filename: &'a str,
    pub title: &'a str,
    pub comment: &'a str,
    pub bytes: Vec<u8>,
}

/// Uploads `png` and shares it in `channel`, under `thread` when given.
pub async fn share_png(
    http: &reqwest::Client,
    web_api: &WebApi,
    hosts: &SlackHosts,
    (channel, thread): (&str, Option<&str>),
    png: Png<'_>,
) -> Result<(), TellError> {
    let asked = web_api
        .call(
            http,
            "files.getUploadURLExternal",
            Body::Form(&[
                ("filename", png.filename.to_owned()),
                ("length", png.bytes.len().to_string()),
                ("alt_txt", cut(png.title, 1000)),
            ]),
        )
        .await?;
    let (Some(url), Some(file)) = (asked["upload_url"].as_str(), asked["file_id"].as_str()) else {
        return Err(TellError::Refused("no_upload_url".to_owned()));
    };
    let url = hosts
        .check(url, &UPLOAD_HOSTS)
        .map_err(|_| TellError::Address("the upload URL is not one of Slack's file hosts"))?;
    let sent = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "image/png")
        .body(png.bytes)
        .send()
        .await
        .map_err(|_| TellError::Transport("could not reach Slack's upload URL"))?;
    if !sent.status().is_success() {
        return Err(TellError::Status(sent.status().as_u16()));
    }
    let files = json!([{ "id": file, "title": cut(png.title, 250) }]);
    let mut fields = vec![
        ("files", files.to_string()),
        ("channel_id", channel.to_owned()),
        ("initial_comment", super::render::escape(png.comment)),
    ];
    if let Some(thread) = thread {
        fields.push(("thread_ts", thread.to_owned()));
    }
    let _: Value = web_api
        .call(http, "files.completeUploadExternal", Body::Form(&fields))
        .await?;
    Ok(())
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
