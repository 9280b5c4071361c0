/**
 * The example third-party container (examples/custom-container/) passes the kit's container contract suite, run as
 * a plug-in author runs it: through `lightsched/testing`; and its encoding keeps every declared record field.
 */
import { describe, expect, it } from 'vitest';
import { createTaskRecord, TASK_FIELDS } from 'lightsched/kit';
import { describeContainerContract } from 'lightsched/testing';
import { decodeRecord, encodeRecord, JsonMapContainer } from '../../examples/custom-container/json-map-container.js';

describeContainerContract('JsonMapContainer (examples/custom-container)', () => new JsonMapContainer(), {
	priority: true,
	json: true,
});

describe('JsonMapContainer encoding', () => {
	it('stores every declared field and reads it back', () => {
		const record = createTaskRecord({ id: 'a', item: { n: 1 } }, 'task', { maxAttempts: 3 }, 1_000);
		const values: Record<string, unknown> = {
			attempts: 2,
			startedAt: 5,
			finishedAt: 6,
			runAt: 7,
			error: { message: 'm', code: 'E' },
			output: [1],
			progress: { p: 1 },
			ref: 'r',
			owner: 'o',
			leaseUntil: 8,
			stopRequested: true,
			status: 'running',
			seq: 9,
		};
		Object.assign(record, values);
		const back = decodeRecord(encodeRecord(record));
		for (const field of TASK_FIELDS) expect(back[field.name], field.name).toEqual(record[field.name]);
	});
});
