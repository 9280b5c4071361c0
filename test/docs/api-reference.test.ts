/**
 * The API reference builds without a warning: TypeDoc (typedoc.json, the entry points inferred from package.json's
 * subpath exports) runs with warnings as errors and writes nothing (`--emit none`). An export without a doc comment,
 * a broken `{@link}` or a public type that is referenced but not exported fails this test, naming it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

describe('API reference', () => {
	it('npm run docs builds it with no warning (every export documented)', async () => {
		const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'); // its package exports no bin path
		let output: string;
		let failed = false;
		try {
			const { stdout, stderr } = await run(process.execPath, [typedoc, '--emit', 'none', '--logLevel', 'Warn'], {
				cwd: root,
				env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
				maxBuffer: 16 * 1024 * 1024,
			});
			output = `${stdout}${stderr}`;
		} catch (error) {
			const result = error as { stdout?: string; stderr?: string; message: string };
			output = `${result.stdout ?? ''}${result.stderr ?? ''}` || result.message;
			failed = true;
		}
		const problems = output
			// eslint-disable-next-line no-control-regex
			.replace(/\u001b\[[0-9;]*m/g, '')
			.split('\n')
			.filter((line) => /\[(warning|error)\]/.test(line));
		expect(problems.join('\n')).toBe('');
		expect(failed).toBe(false);
	}, 300_000);
});
