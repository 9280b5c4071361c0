/**
 * The arguments of the Redis workflow store's `list` script (LIST_RUNS in workflow-scripts.ts) from a `RunQuery`,
 * checked as every store checks them.
 */
import { describeValue } from 'lightsched/kit';
import type { RunQuery, RunStatus } from '../../src/workflow-store.js';
import { isWellFormed } from './options.js';

/** LIST_RUNS's ARGV for `query`, or `null` when no stored run can match it (the page is then empty). */
export function listRunsArgs(query: RunQuery): string[] | null {
	const { offset = 0, limit = 100, order = 'asc' } = query;
	if (order !== 'asc' && order !== 'desc')
		throw new TypeError(`Expected \`order\` to be 'asc' or 'desc', got ${describeValue(order)}`);
	if (!Number.isSafeInteger(offset) || offset < 0)
		throw new TypeError(`Expected \`offset\` to be an integer >= 0, got ${describeValue(offset)}`);
	if (!Number.isSafeInteger(limit) || limit < 0)
		throw new TypeError(`Expected \`limit\` to be an integer >= 0, got ${describeValue(limit)}`);
	const statuses: RunStatus[] =
		query.status === undefined
			? []
			: [...new Set(typeof query.status === 'string' ? [query.status] : query.status)];
	if (query.status !== undefined && statuses.length === 0) return null;
	// Texts no stored run can have (a lone surrogate) match nothing.
	for (const text of [query.definition, query.key, ...statuses])
		if (text !== undefined && !isWellFormed(text)) return null;
	const bound = (field: string, value: number | undefined): void => {
		if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value)))
			throw new TypeError(`Expected \`${field}\` to be a number of milliseconds, got ${describeValue(value)}`);
	};
	bound('from', query.from);
	bound('to', query.to);
	return [
		order,
		String(offset),
		String(limit),
		query.from === undefined ? '-inf' : String(query.from),
		query.to === undefined ? '+inf' : `(${String(query.to)}`,
		query.definition === undefined ? '0' : '1',
		query.definition ?? '',
		query.key === undefined ? '0' : '1',
		query.key ?? '',
		...statuses,
	];
}
