/** listener: TCP listener sets reconciled with the config. */
export { ListenerSet } from './listener-set.ts';
export type { ListenAddress } from './listener-set.ts';
