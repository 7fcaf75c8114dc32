/** admin: the loopback admin listener. */
export { listenAdmin } from './admin-server.ts';
export type { AdminSources } from './admin-server.ts';
