// assistant: an AI agent (identity spiffe://<td>/ns/default/agent/assistant) that checks the
// inventory tool now and then. Gentle and bounded: one call every ASSISTANT_INTERVAL_MS (default
// 15 s), stopping after ASSISTANT_MINUTES (default 10) minutes; it then idles until stopped.
import { callJson, me } from './common.mjs';

const INVENTORY = process.env.INVENTORY_URL;
const interval = Number(process.env.ASSISTANT_INTERVAL_MS ?? 15000);
const until = Date.now() + Number(process.env.ASSISTANT_MINUTES ?? 10) * 60_000;

console.log(`${me.instance} (${me.identity}) will check ${INVENTORY}/items every ${interval} ms`);
const timer = setInterval(async () => {
  if (Date.now() > until) {
    clearInterval(timer);
    console.log('done; idling');
    return;
  }
  const r = await callJson(`${INVENTORY}/items`);
  const low = Array.isArray(r.body?.items) ? r.body.items.filter((i) => i.stock < 5).map((i) => i.sku) : [];
  console.log(JSON.stringify({ status: r.status, lowStock: low, error: r.error }));
}, interval);
const keepAlive = setInterval(() => {}, 1 << 30);
const stop = () => {
  clearInterval(timer);
  clearInterval(keepAlive);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
