-- wrk script: POST one pre-signed Slack slash command (`/throttle help`) over and over.
-- Every request goes through signature verification, form parsing and the JSON reply,
-- and none reaches AWS. run.sh fills in the body, timestamp and signature.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["X-Slack-Request-Timestamp"] = os.getenv("TIMESTAMP")
wrk.headers["X-Slack-Signature"] = os.getenv("SIGNATURE")
