/**
 * Generated ids are UUID v4 strings whose 122 random bits are all drawn: every hex digit outside the version and
 * variant varies, and no two digits repeat each other (one random byte written twice would pass the format check).
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';

describe('generated ids', () => {
	it('draw every random digit independently', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(() => undefined),
			autoStart: false,
		});
		const ids: string[] = [];
		for (let i = 0; i < 4_000; i++) ids.push((await scheduler.add({ item: i })).id);
		expect(new Set(ids).size).toBe(ids.length);
		const digits = Array.from({ length: 36 }, (_, at) => at).filter((at) => ![8, 13, 14, 18, 23].includes(at));
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
		for (const id of ids)
			expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
		await scheduler.close();
	});
});
