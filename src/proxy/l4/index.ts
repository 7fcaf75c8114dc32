/** l4: byte pipes. */
export { splice } from './splice.ts';
export type { SpliceStats } from './splice.ts';
