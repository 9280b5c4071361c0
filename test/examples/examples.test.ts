import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tsx = ['--import', 'tsx', '--conditions=lightsched:source'];

describe('examples', () => {
	it('the README quick start is a copy of examples/quick-start.ts, and it runs as printed', async () => {
		const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
		const example = await readFile(new URL('../../examples/quick-start.ts', import.meta.url), 'utf8');
		const block = /## Quick start[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
		expect(block).toBe(example);
		const { stdout } = await run(process.execPath, [...tsx, 'examples/quick-start.ts'], { timeout: 30_000 });
		expect(stdout).toBe('sum-1 3\n');
	});

	it('a-plus-b prints every sum or failure of its ten tasks', async () => {
		const { stdout } = await run(process.execPath, [...tsx, 'examples/a-plus-b.ts'], {
			timeout: 60_000,
			env: { ...process.env, MAX_SLEEP_MS: '20' },
		});
		for (let i = 0; i < 10; i++) {
			expect(stdout).toMatch(
				new RegExp(
					`task ${i}: (${i} \\+ ${i * 10} = ${i * 11} \\(attempts: [123]\\)|failed after 3 attempts: random failure)`,
				),
			);
		}
		expect(stdout).toMatch(/counts: \{[^}]*waiting: 0/);
	});

	it('a-plus-b retries failures: with every attempt failing, each task fails after three attempts', async () => {
		const { stdout } = await run(process.execPath, [...tsx, 'examples/a-plus-b.ts'], {
			timeout: 60_000,
			env: { ...process.env, FAILURE_RATE: '1', MAX_SLEEP_MS: '1' },
		});
		expect(stdout.match(/failed after 3 attempts: random failure/g)).toHaveLength(10);
		expect(stdout.match(/retrying in/g)).toHaveLength(20);
	});
});
