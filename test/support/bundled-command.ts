/**
 * The programs the tests start as child processes (the `lightsched` binary, the worker fixtures), each bundled once
 * per test file by esbuild (the transform tsx applies file by file at every start, done once) with the
 * `lightsched:source` condition, into a folder of test-output/ that is removed after the file's tests; the
 * dependencies stay in node_modules. A start then costs what the published binary's does (about 0.5 s here) instead
 * of tsx transforming the sources again each time (1.1–1.7 s, more under load): the CLI tests start the binary about
 * 150 times, the multi-process tests their workers dozens of times. The folder sits one level under the repository,
 * so the dashboard finds its assets in the source tree as it does from `dist/` (dashboard/assets.ts).
 *
 * The examples keep running through tsx, as their READMEs tell a user to run them.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Per entry (relative to the repository): its bundle, being built or built. */
const built = new Map<string, Promise<string>>();

function outDir(): string {
	mkdirSync(join(ROOT, 'test-output'), { recursive: true });
	return mkdtempSync(join(ROOT, 'test-output', 'cli-'));
}

async function bundle(entry: string, outdir: string): Promise<string> {
	const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<
		string,
		Record<string, string> | undefined
	>;
	const external = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'].flatMap((field) =>
		Object.keys(manifest[field] ?? {}),
	);
	await build({
		entryPoints: [isAbsolute(entry) ? entry : join(ROOT, entry)],
		bundle: true,
		splitting: true, // a program loads a container's or an actuator's modules only when it asks for them
		format: 'esm',
		platform: 'node',
		target: `node${process.versions.node.split('.')[0] ?? '20'}`,
		conditions: ['lightsched:source'],
		external,
		outdir,
		logLevel: 'error',
	});
	return join(outdir, `${basename(entry).replace(/\.[cm]?ts$/, '')}.js`);
}

/**
 * `[node, the bundled program]` for `entry` (absolute, or relative to the repository: `test/fixtures/sql-scheduler.ts`),
 * built on the first call for it. Call it at the top level of a test file or of a module the file imports (`const
 * WORKER = await bundledCommand(…);`): it registers the removal of the bundle after the file's tests.
 */
export async function bundledCommand(entry: string): Promise<[string, string]> {
	let program = built.get(entry);
	if (program === undefined) {
		const outdir = outDir();
		afterAll(() => rmSync(outdir, { recursive: true, force: true }));
		program = bundle(entry, outdir);
		built.set(entry, program);
	}
	return [process.execPath, await program];
}

/** `[node, the bundled binary]`: the command line that starts `lightsched` (see `bundledCommand`). */
export function cliCommand(): Promise<[string, string]> {
	return bundledCommand('cli/main.ts');
}
