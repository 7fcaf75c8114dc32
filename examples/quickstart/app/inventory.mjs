// inventory: a "tool" service an AI agent uses. The policy lets the assistant agent read (GET) but
// not change (POST) it.
import { callerOf, me, sendJson, serve } from './common.mjs';

const items = [
  { sku: 'book-1', title: 'The Comedy of Errors', stock: 12 },
  { sku: 'book-2', title: 'Twelfth Night', stock: 3 },
];

serve(async (req, res, url) => {
  if (url.pathname !== '/items') return sendJson(res, 404, { error: 'not found' });
  if (req.method === 'POST') {
    let body = '';
    for await (const c of req) body += c;
    return sendJson(res, 201, {
      service: 'inventory',
      instance: me.instance,
      caller: callerOf(req),
      added: body,
    });
  }
  sendJson(res, 200, { service: 'inventory', instance: me.instance, caller: callerOf(req), items });
});
