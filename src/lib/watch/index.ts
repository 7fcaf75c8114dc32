/** Latest value + change stream. */
export { Watch } from './watch.ts';
export type { Unsubscribe } from './watch.ts';
