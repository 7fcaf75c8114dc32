/** Bounds the work one event-loop turn starts, so an HTTP/2 session flushes every few messages. */
export { TurnBudget } from './turn-budget.ts';
