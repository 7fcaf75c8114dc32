// reviews: three versions behind one Service. v1 shows no ratings; v2 and v3 call ratings (black
// and red stars in Bookinfo). REVIEWS_VERSION comes from the Workload's run.env.
import { callJson, callerOf, me, sendJson, serve } from './common.mjs';

const VERSION = process.env.REVIEWS_VERSION ?? 'v1';
const RATINGS = process.env.RATINGS_URL;

serve(async (req, res, url) => {
  const m = /^\/reviews\/(\d+)$/.exec(url.pathname);
  if (!m) return sendJson(res, 404, { error: 'not found' });
  const out = {
    service: 'reviews',
    version: VERSION,
    instance: me.instance,
    caller: callerOf(req),
    reviews: ['An extremely entertaining play by Shakespeare.', 'Absolutely fun and entertaining.'],
  };
  if (VERSION !== 'v1') out.rating = await callJson(`${RATINGS}/ratings/${m[1]}`);
  sendJson(res, 200, out);
});
