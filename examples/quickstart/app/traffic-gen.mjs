// traffic-gen: a bounded, gentle load generator so the dashboard and `weft status` have something to
// show. TRAFFIC_RPS requests per second (default 2) to the storefront for TRAFFIC_MINUTES (default
// 10) minutes, then it idles until stopped. Prints a summary every 10 s.
import { callJson, me } from './common.mjs';

const target = `${process.env.STOREFRONT_URL}/`;
const rps = Math.min(Math.max(Number(process.env.TRAFFIC_RPS ?? 2), 0), 20);
const until = Date.now() + Number(process.env.TRAFFIC_MINUTES ?? 10) * 60_000;
const counts = {};
let sent = 0;

console.log(`${me.instance}: ${rps} req/s to ${target} for ${process.env.TRAFFIC_MINUTES ?? 10} min`);
const timer =
  rps > 0
    ? setInterval(async () => {
        if (Date.now() > until) {
          clearInterval(timer);
          console.log(`done after ${sent} requests; idling`);
          return;
        }
        sent++;
        const r = await callJson(target);
        const key = `${r.status}${r.body?.reviews?.body?.version ? ` reviews-${r.body.reviews.body.version}` : ''}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }, 1000 / rps)
    : undefined;
const report = setInterval(() => console.log(JSON.stringify({ sent, counts })), 10_000);
const keepAlive = setInterval(() => {}, 1 << 30);
const stop = () => {
  clearInterval(timer);
  clearInterval(report);
  clearInterval(keepAlive);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
