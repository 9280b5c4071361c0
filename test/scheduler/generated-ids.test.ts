/**
 * Generated ids are UUID v7 strings (RFC 9562): the time they were made in milliseconds, then a counter within the
 * millisecond, so one process's ids sort in the order they were made (a database's id index then grows at its end,
 * not at random pages), then 62 random bits that are all drawn: every random hex digit varies, and no two repeat
 * each other (one random byte written twice would pass the format check).
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { timeOrderedId } from '../../src/time-ordered-id.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The milliseconds an id says it was made at. */
const msOf = (id: string): number => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

describe('generated ids', () => {
	it('are UUID v7 strings made at the time of the add, in the order they were made', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(() => undefined),
			autoStart: false,
		});
		const before = Date.now();
		const ids: string[] = [];
		for (let i = 0; i < 4_000; i++) ids.push((await scheduler.add({ item: i })).id);
		ids.push(...(await scheduler.add(Array.from({ length: 2_000 }, (_, i) => ({ item: i })))).map((t) => t.id));
		const after = Date.now();
		expect(new Set(ids).size).toBe(ids.length);
		for (const id of ids) {
			expect(id).toMatch(V7);
			expect(msOf(id)).toBeGreaterThanOrEqual(before);
			expect(msOf(id)).toBeLessThanOrEqual(after + 1);
		}
		expect([...ids].sort()).toEqual(ids);
		await scheduler.close();
	});

	it('draw every random digit independently', () => {
		const ids = Array.from({ length: 4_000 }, () => timeOrderedId());
		// The variant's digit (19) and the 15 after it that hold the 62 random bits.
		const digits = Array.from({ length: 36 }, (_, at) => at).filter((at) => at >= 19 && at !== 23);
		for (const at of digits) {
			const seen = new Set(ids.map((id) => id[at]));
			// The variant digit takes 4 values (8, 9, a, b), the others 16.
			expect(seen.size, `digit ${at}`).toBe(at === 19 ? 4 : 16);
		}
		for (const a of digits)
			for (const b of digits) {
				if (a >= b) continue;
				const same = ids.filter((id) => id[a] === id[b]).length;
				// Independent digits agree about 1/16 of the time (1/4 against the variant digit at most).
				expect(same / ids.length, `digits ${a} and ${b}`).toBeLessThan(0.35);
			}
	});

	it('keep their order within a millisecond, past 4,096 ids in it, and when the clock goes back', () => {
		const at = Date.now() + 60_000;
		const ids = Array.from({ length: 10_000 }, () => timeOrderedId(at));
		ids.push(timeOrderedId(at - 5_000), timeOrderedId(at + 10_000));
		expect([...ids].sort()).toEqual(ids);
		expect(new Set(ids).size).toBe(ids.length);
		// A random start in the counter's lower half: at least 2,048 ids fit in the millisecond itself.
		expect(ids.slice(0, 2_048).every((id) => msOf(id) === at)).toBe(true);
		// The clock set back: stamped with the last millisecond used, never an earlier one.
		expect(msOf(ids[10_000] as string)).toBeGreaterThanOrEqual(at);
		expect(msOf(ids[10_001] as string)).toBe(at + 10_000);
	});
});
