"""Bolt for Python answering the slash command with the same reply as throttle-bot's `help`,
for benches/run.sh's comparison (WITH_BOLT=1), on Bolt's own HTTP server. Bolt checks the same
signature."""
import json
import logging
import os
import re

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult

logging.basicConfig(level=logging.ERROR)
with open(os.environ["BOLT_REPLY"], encoding="utf-8") as f:
    REPLY = json.load(f)


def authorize(enterprise_id, team_id, logger):
    # A fixed authorisation: no call to Slack's auth.test (the bench runs without network).
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-bench",
                           bot_id="B0BENCH", bot_user_id="U0BENCH")


app = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"], authorize=authorize)


@app.command(re.compile(".*"))
def answer(ack):
    ack(REPLY)


if __name__ == "__main__":
    app.start(port=int(os.environ["PORT"]))
