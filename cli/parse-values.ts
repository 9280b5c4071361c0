/**
 * Values from the command line: durations (`500ms`, `30s`, `5m`, `2h`, `7d`), whole numbers, status lists and
 * JSON items. A value that does not parse is a usage error naming the option and what it expects.
 */
import type { TaskStatus } from 'lightsched';
import { TASK_STATUSES } from 'lightsched/kit';
import { RUN_STATUSES, type RunStatus } from '../src/workflow-store.js';
import { CliError, EXIT } from './cli-error.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s` → 30000; a bare number is milliseconds. */
export function parseDuration(option: string, value: string): number {
	const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
	if (match === null)
		throw new CliError(
			`Expected \`${option}\` to be a duration such as 500ms, 30s, 5m, 2h or 7d, got ${JSON.stringify(value)}`,
			EXIT.usage,
		);
	return Math.round(Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1));
}

/** A whole number at least `min`. */
export function parseCount(option: string, value: string, min = 0): number {
	const n = Number(value);
	if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
		throw new CliError(
			`Expected \`${option}\` to be a whole number >= ${min}, got ${JSON.stringify(value)}`,
			EXIT.usage,
		);
	return n;
}

/** An integer, negative allowed (priorities). */
export function parseInteger(option: string, value: string): number {
	const n = Number(value);
	if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
		throw new CliError(`Expected \`${option}\` to be an integer, got ${JSON.stringify(value)}`, EXIT.usage);
	return n;
}

/** `succeeded,failed` → the statuses, each checked. */
export function parseStatuses(option: string, value: string): TaskStatus[] {
	return parseChoices(option, value, TASK_STATUSES);
}

/** `failed,stopped` → the run statuses, each checked. */
export function parseRunStatuses(option: string, value: string): RunStatus[] {
	return parseChoices(option, value, RUN_STATUSES);
}

/** A comma-separated list of at least one of `allowed`. */
function parseChoices<T extends string>(option: string, value: string, allowed: readonly T[]): T[] {
	const list = value
		.split(',')
		.map((s) => s.trim())
		.filter((s) => s !== '');
	for (const status of list)
		if (!(allowed as readonly string[]).includes(status))
			throw new CliError(
				`Expected \`${option}\` to list statuses among ${allowed.join(', ')}, got ${JSON.stringify(status)}`,
				EXIT.usage,
			);
	if (list.length === 0) throw new CliError(`Expected \`${option}\` to list at least one status`, EXIT.usage);
	return list as T[];
}

/** A task item from JSON text; `what` says where it came from (the argument, stdin). */
export function parseItem(what: string, text: string): unknown {
	try {
		return JSON.parse(text) as unknown;
	} catch (error) {
		throw new CliError(`Expected the item (${what}) to be JSON: ${(error as Error).message}`, EXIT.usage, {
			cause: error,
		});
	}
}

/** `--field a=10 --field name=x` → `{ a: 10, name: 'x' }`: each value is JSON when it parses, else a string. */
export function parseFields(values: readonly string[]): Record<string, unknown> {
	const item: Record<string, unknown> = {};
	for (const pair of values) {
		const at = pair.indexOf('=');
		if (at <= 0) throw new CliError(`Expected \`--field\` as key=value, got ${JSON.stringify(pair)}`, EXIT.usage);
		const raw = pair.slice(at + 1);
		let value: unknown = raw;
		try {
			value = JSON.parse(raw) as unknown;
		} catch {
			// A plain string.
		}
		item[pair.slice(0, at)] = value;
	}
	return item;
}
