/**
 * The `lightsched` binary for the tests that start it as a child process: cli/main.ts and the package's own modules
 * bundled once per test file by esbuild (the transform tsx applies file by file at every start, done once), with
 * the `lightsched:source` condition, into a folder of test-output/ that is removed after the file's tests; the
 * dependencies stay in node_modules. A start then costs what the published binary's does (about 0.5 s here) instead
 * of tsx transforming the sources again each time (1.1–1.7 s, more under load), and the CLI tests start the binary
 * about 150 times. The folder sits one level under the repository, so the dashboard finds its assets in the
 * source tree as it does from `dist/` (dashboard/assets.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let built: Promise<string> | undefined;

function outDir(): string {
	mkdirSync(join(ROOT, 'test-output'), { recursive: true });
	return mkdtempSync(join(ROOT, 'test-output', 'cli-'));
}

async function bundle(outdir: string): Promise<string> {
	const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<
		string,
		Record<string, string> | undefined
	>;
	const external = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'].flatMap((field) =>
		Object.keys(manifest[field] ?? {}),
	);
	await build({
		entryPoints: [join(ROOT, 'cli', 'main.ts')],
		bundle: true,
		splitting: true, // the CLI loads a container's or an actuator's modules only when asked for them
		format: 'esm',
		platform: 'node',
		target: `node${process.versions.node.split('.')[0] ?? '20'}`,
		conditions: ['lightsched:source'],
		external,
		outdir,
		logLevel: 'error',
	});
	return join(outdir, 'main.js');
}

/**
 * `[node, the bundled binary]`: the command line that starts `lightsched`, built on the first call. Call it at the
 * top level of a test file (`const CLI = await cliCommand();`): it registers the removal of the bundle after the
 * file's tests.
 */
export async function cliCommand(): Promise<[string, string]> {
	if (built === undefined) {
		const outdir = outDir();
		afterAll(() => rmSync(outdir, { recursive: true, force: true }));
		built = bundle(outdir);
	}
	return [process.execPath, await built];
}
