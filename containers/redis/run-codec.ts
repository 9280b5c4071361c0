/**
 * A workflow run as the Redis scripts take it (workflow-scripts.ts: its id, rev, definition, status, key, open flag,
 * creation time, whether it holds its key, and its JSON body, see workflows/run-body.ts) and as they give it back
 * (body and rev pairs), and the check of the texts that name keys: Redis keys are UTF-8, so a text must be
 * well-formed Unicode.
 */
import { callToken } from './call-token.js';
import type { RunRecord } from '../../src/workflow-store.js';
import { holdsKey } from '../../workflows/memory-store.js';
import { isWellFormed } from './options.js';
import { decodeRunBody, encodeRunBody } from '../../workflows/run-body.js';

/** Refuse a run text (id, definition, key) that is not well-formed Unicode. */
export function checkText(field: string, value: string): void {
	// Redis keys are UTF-8: a lone surrogate would be sent as U+FFFD, so two different texts would name one key.
	if (!isWellFormed(value))
		throw new TypeError(`Expected the run's \`${field}\` to be well-formed Unicode, got ${JSON.stringify(value)}`);
}

/**
 * The run as the scripts take it (see workflow-scripts.ts), its `rev` the one to store, and a token unique to this
 * call (or `token`): a call sent again after its reply was lost finds it stored and is answered as applied.
 */
export function runArgs(run: RunRecord, token = callToken()): string[] {
	return [
		run.id,
		String(run.rev),
		run.definition,
		run.status,
		run.key === null ? '0' : '1',
		run.key ?? '',
		run.open ? '1' : '0',
		String(run.createdAt),
		holdsKey(run) ? '1' : '0',
		encodeRunBody(run),
		token,
	];
}

/** Runs from a script's flat reply of body, rev pairs (a removed run's pair is nulls: left out). */
export function decodeRuns(flat: readonly (string | null)[]): RunRecord[] {
	const runs: RunRecord[] = [];
	for (let i = 0; i + 1 < flat.length; i += 2) {
		const body = flat[i];
		if (body === null || body === undefined) continue; // removed between index and read: cannot happen in one script
		runs.push(decodeRunBody(body, Number(flat[i + 1])));
	}
	return runs;
}
