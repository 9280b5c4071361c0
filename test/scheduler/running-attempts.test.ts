import { describe, expect, it } from 'vitest';
import { Attempt, type AttemptHost } from '../../src/attempt.js';
import { RunningAttempts } from '../../src/running-attempts.js';
import { createTaskRecord } from 'lightsched/kit';

const host: AttemptHost = { owner: 'me', progress: () => undefined, done: () => undefined };
const attempt = (id: string): Attempt =>
	new Attempt(createTaskRecord({ id, item: null }, 'task', { maxAttempts: 1 }, 0), host);

describe.each([false, true])('RunningAttempts (indexed by id: %s)', (indexed) => {
	it('adds, finds by id and deletes from any position; deleting twice or an unlisted attempt changes nothing', () => {
		const running = new RunningAttempts(indexed);
		const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(attempt) as [Attempt, Attempt, Attempt, Attempt];
		for (const x of [a, b, c]) running.add(x);
		expect(running.size).toBe(3);
		expect(running.get('b')).toBe(b);
		running.delete(b); // middle
		running.delete(b);
		running.delete(d); // never added
		expect(running.size).toBe(2);
		expect(running.get('b')).toBeUndefined();
		expect(
			running
				.values()
				.map((x) => x.task.id)
				.sort(),
		).toEqual(['a', 'c']);
		running.delete(c); // head
		running.delete(a); // tail
		expect(running.size).toBe(0);
		expect(running.values()).toEqual([]);
		running.add(b);
		expect(running.get('b')).toBe(b);
		expect(running.size).toBe(1);
	});

	it('values() is a snapshot: deleting while iterating visits every attempt once', () => {
		const running = new RunningAttempts(indexed);
		const all = Array.from({ length: 50 }, (_, i) => attempt(`t${i}`));
		for (const x of all) running.add(x);
		const seen: string[] = [];
		for (const x of running.values()) {
			seen.push(x.task.id);
			running.delete(x);
		}
		expect(seen.sort()).toEqual(all.map((x) => x.task.id).sort());
		expect(running.size).toBe(0);
	});
});
