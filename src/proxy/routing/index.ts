/** routing: applying matched route filters to live requests. */
export { applyFilters, localReply } from './filters.ts';
export type { FilterOutcome } from './filters.ts';
