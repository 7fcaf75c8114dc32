// storefront: the shop's front page. Calls details and reviews (which the HTTPRoute splits across
// reviews v1/v2/v3) and shows what came back, as JSON or, for a browser, a small HTML page.
import { callJson, callerOf, me, sendJson, serve } from './common.mjs';

const DETAILS = process.env.DETAILS_URL;
const REVIEWS = process.env.REVIEWS_URL;

serve(async (req, res, url) => {
  if (url.pathname !== '/' && !url.pathname.startsWith('/product'))
    return sendJson(res, 404, { error: 'not found' });
  const id = url.searchParams.get('id') ?? '1';
  const [details, reviews] = await Promise.all([
    callJson(`${DETAILS}/details/${id}`),
    callJson(`${REVIEWS}/reviews/${id}`),
  ]);
  const page = { service: 'storefront', instance: me.instance, caller: callerOf(req), details, reviews };
  if ((req.headers.accept ?? '').includes('text/html')) {
    const r = reviews.body ?? {};
    const stars = r.rating ? '★'.repeat(r.rating.body?.stars ?? 0) : '';
    const html = `<!doctype html><meta charset="utf-8"><title>Weft storefront</title>
<h1>${details.body?.title ?? 'unavailable'}</h1><p>by ${details.body?.author ?? '?'}</p>
<h2>Reviews (${r.version ?? '?'}) ${stars}</h2><ul>${(r.reviews ?? []).map((x) => `<li>${x}</li>`).join('')}</ul>
<pre>${JSON.stringify(page, null, 2).replace(/</g, '&lt;')}</pre>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(html);
  }
  sendJson(res, 200, page);
});
