/**
 * The tokens that make a Redis script call sent twice apply once (containers/redis/call-token.ts): each distinct,
 * and short, since every step stores three of them (a task's addToken and lastTransition, a run's tok).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { callToken } from '../../containers/redis/call-token.js';

describe('Redis call tokens', () => {
	it('are distinct in a process, and at most 16 characters (12 of prefix, the count in base 36)', () => {
		const seen = new Set<string>();
		for (let i = 0; i < 100_000; i++) seen.add(callToken());
		expect(seen.size).toBe(100_000);
		for (const token of seen) expect(token.length).toBeLessThanOrEqual(16);
	});

	it('differ between processes (a random prefix each)', () => {
		const other = (): string =>
			execFileSync(
				process.execPath,
				[
					'--import',
					'tsx',
					'-e',
					"import('./containers/redis/call-token.ts').then((m) => console.log(m.callToken()))",
				],
				{ encoding: 'utf8' },
			).trim();
		const a = other();
		const b = other();
		expect(a).not.toBe(b);
		expect(a.slice(0, 12)).not.toBe(b.slice(0, 12));
	});
});
