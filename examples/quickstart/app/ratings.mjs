// ratings: stars for a product. Only reviews may call it.
import { callerOf, me, sendJson, serve } from './common.mjs';

serve((req, res, url) => {
  const m = /^\/ratings\/(\d+)$/.exec(url.pathname);
  if (!m) return sendJson(res, 404, { error: 'not found' });
  sendJson(res, 200, {
    service: 'ratings',
    instance: me.instance,
    caller: callerOf(req),
    id: Number(m[1]),
    stars: 4,
  });
});
