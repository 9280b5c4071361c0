/** The workflow examples run as printed (examples/workflows/). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tsx = ['--import', 'tsx', '--conditions=lightsched:source'];

describe('workflow examples', () => {
	it("hello: bk-bscp's one Add step sums a and b; its own retries (3 attempts) absorb two failures, a third fails the run", async () => {
		const ok = await run(process.execPath, [...tsx, 'examples/workflows/hello.ts', '--a', '10', '--b', '20'], {
			timeout: 60_000,
		});
		expect(ok.stdout).toBe('callback: run succeeded\nhello: 10 + 20 = 30 (attempts: 1)\n');
		const retried = await run(process.execPath, [...tsx, 'examples/workflows/hello.ts', '--a', '1', '--b', '2'], {
			timeout: 60_000,
			env: { ...process.env, FAIL_ATTEMPTS: '2' },
		});
		expect(retried.stdout).toBe('callback: run succeeded\nhello: 1 + 2 = 3 (attempts: 3)\n');
		const failed = await run(process.execPath, [...tsx, 'examples/workflows/hello.ts'], {
			timeout: 60_000,
			env: { ...process.env, FAIL_ATTEMPTS: '3' },
		});
		expect(failed.stdout).toBe(
			'callback: run failed\nhello: failed: Step `add` failed: attempt 3 failed on purpose\n',
		);
	});

	it('bcs-chain: a chain with shared data passed along, a skipOnFailed step, a deadline and a callback', async () => {
		const file = 'examples/workflows/bcs-chain.ts';
		const ok = await run(process.execPath, [...tsx, file], { timeout: 60_000 });
		expect(ok.stdout).toBe(
			'callback: succeeded\ncreate: succeeded, addons: succeeded, notify: succeeded, ready: succeeded\nbcs-c42 ready; shared {"clusterId":"bcs-c42","ready":true}\n',
		);
		const skipped = await run(process.execPath, [...tsx, file], {
			timeout: 60_000,
			env: { ...process.env, NOTIFY_FAILS: '1' },
		});
		expect(skipped.stdout).toBe(
			'callback: succeeded\ncreate: succeeded, addons: succeeded, notify: skipped, ready: succeeded\nbcs-c42 ready; shared {"clusterId":"bcs-c42","ready":true}\n',
		);
		const late = await run(process.execPath, [...tsx, file], {
			timeout: 60_000,
			env: { ...process.env, SLOW_MS: '5000' },
		});
		expect(late.stdout).toBe(
			'callback: failed (ERR_RUN_DEADLINE)\ncreate: succeeded, addons: stopped, notify: waiting, ready: waiting\n',
		);
	});

	it('release: a YAML DAG fans out and joins, renders templates, blocks until continued by hand, skips by pre-check', async () => {
		const { stdout } = await run(process.execPath, [...tsx, 'examples/workflows/release.ts'], { timeout: 60_000 });
		const lines = stdout.trim().split('\n');
		const at = (line: string): number => {
			const index = lines.indexOf(line);
			expect(index, `line "${line}" in:\n${stdout}`).toBeGreaterThanOrEqual(0);
			return index;
		};
		// The builds start after prepare; the join starts after both succeeded.
		expect(at('succeeded prepare')).toBeLessThan(at('started build-linux'));
		expect(at('started build-mac')).toBeLessThan(at('started package'));
		expect(Math.max(at('succeeded build-linux'), at('succeeded build-mac'))).toBeLessThan(at('started package'));
		expect(at('blocked release')).toBeLessThan(at('run blocked: an operator approves the release'));
		expect(at('run blocked: an operator approves the release')).toBeLessThan(at('started release'));
		expect(at('skipped notify')).toBeGreaterThan(at('succeeded release'));
		expect(lines.at(-1)).toBe(
			'run succeeded: {"archive":"app-2.1.0.tar","files":["app-2.1.0-linux.bin","app-2.1.0-mac.bin"]}, published on stable',
		);
	});
});
