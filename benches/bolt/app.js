// Bolt for JavaScript answering the slash command with the same reply as throttle-bot's `help`,
// for benches/run.sh's comparison (WITH_BOLT=1). Bolt checks the same signature.
const { App, LogLevel } = require('@slack/bolt');
const fs = require('fs');

const reply = JSON.parse(fs.readFileSync(process.env.BOLT_REPLY, 'utf8'));
const app = new App({
  signingSecret: process.env.SLACK_SIGNING_SECRET,
  // A fixed authorisation: no call to Slack's auth.test (the bench runs without network).
  authorize: async () => ({ botToken: 'xoxb-bench', botId: 'B0BENCH', botUserId: 'U0BENCH' }),
  logLevel: LogLevel.ERROR,
});
app.command(/.*/, async ({ ack }) => {
  await ack(reply);
});
app.start(Number(process.env.PORT));
