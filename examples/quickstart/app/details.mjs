// details: facts about a product. Only storefront may call it (AuthorizationPolicy "details").
import { callerOf, me, sendJson, serve } from './common.mjs';

serve((req, res, url) => {
  const m = /^\/details\/(\d+)$/.exec(url.pathname);
  if (!m) return sendJson(res, 404, { error: 'not found' });
  sendJson(res, 200, {
    service: 'details',
    instance: me.instance,
    caller: callerOf(req),
    id: Number(m[1]),
    title: 'The Comedy of Errors',
    author: 'William Shakespeare',
    pages: 200,
  });
});
