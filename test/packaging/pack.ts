/**
 * Packing lightsched as a user receives it, for the packaging tests: the working tree's package files are
 * copied to a temp folder, built there with `tsconfig.build.json` (the shared checkout's `dist/` is left
 * alone) and packed with `npm pack`. Consumer folders with their dependencies from the npm registry are
 * cached under the temp dir, keyed by their dependency list, so only the first run downloads them.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
export const ROOT = join(import.meta.dirname, '..', '..');
const CACHE = join(tmpdir(), 'lightsched-packaging');
/** What `npm pack` reads: the package's manifest, docs, build config and sources. */
const PACKAGE_FILES = ['package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json'];
/** Top-level folders that hold no package source (everything else may: src, containers, actuators, workflows…). */
const NOT_SOURCE = new Set(['node_modules', 'dist', 'test', 'test-output', 'bench', 'examples', 'docs', 'coverage']);

/** The top-level folders the build may read: every folder but tests, benchmarks, examples, docs and output. */
async function sourceDirs(): Promise<string[]> {
	const entries = await readdir(ROOT, { withFileTypes: true });
	return entries
		.filter((e) => e.isDirectory() && !e.name.startsWith('.') && !e.name.startsWith('_') && !NOT_SOURCE.has(e.name))
		.map((e) => e.name)
		.sort();
}

export interface PackedTarball {
	/** The .tgz file. */
	readonly tarball: string;
	/** The paths inside the package, as `npm pack --json` lists them (`dist/src/index.js`, `LICENSE`). */
	readonly files: readonly string[];
	/** The folder the package was built in (its `dist/` is what the tarball holds). */
	readonly dir: string;
}

async function listFiles(dir: string): Promise<string[]> {
	const out: string[] = [];
	for (const entry of await readdir(dir, { withFileTypes: true })) {
		const path = join(dir, entry.name);
		if (entry.isDirectory()) out.push(...(await listFiles(path)));
		else out.push(path);
	}
	return out.sort();
}

async function hashOf(paths: readonly string[]): Promise<string> {
	const hash = createHash('sha256');
	for (const path of paths) {
		hash.update(relative(ROOT, path));
		hash.update(existsSync(path) ? await readFile(path) : 'missing');
	}
	return hash.digest('hex').slice(0, 16);
}

async function npm(args: readonly string[], cwd: string): Promise<string> {
	try {
		const { stdout } = await exec('npm', [...args], {
			cwd,
			maxBuffer: 64 * 1024 * 1024,
			env: { ...process.env, npm_config_update_notifier: 'false' },
		});
		return stdout;
	} catch (error) {
		const { stderr, stdout } = error as { stderr?: string; stdout?: string };
		throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
	}
}

/** Moves a finished staging folder into place; when another run got there first, keeps theirs. */
async function publish(staging: string, final: string): Promise<void> {
	try {
		await rename(staging, final);
	} catch (error) {
		if (!existsSync(join(final, 'done'))) throw error;
		await rm(staging, { recursive: true, force: true });
	}
}

/** Copies the package's files from the working tree, or from the commit `ref` (`git archive`). */
async function copySources(staging: string, ref: string | undefined, dirs: readonly string[]): Promise<void> {
	if (ref !== undefined) {
		const { stdout: listed } = await exec('git', ['ls-tree', '--name-only', ref, ...PACKAGE_FILES, ...dirs], {
			cwd: ROOT,
		});
		const paths = listed.split('\n').filter((line) => line.length > 0);
		await exec('sh', ['-c', 'git archive --format=tar "$0" -- "$@" | tar -x -C "$STAGING"', ref, ...paths], {
			cwd: ROOT,
			env: { ...process.env, STAGING: staging },
		});
		return;
	}
	for (const file of PACKAGE_FILES) if (existsSync(join(ROOT, file))) await cp(join(ROOT, file), join(staging, file));
	for (const dir of dirs) await cp(join(ROOT, dir), join(staging, dir), { recursive: true });
}

/**
 * Builds and packs the package, as `npm pack` does from the working tree (cached by the content of every
 * file that goes into it). `LIGHTSCHED_PACK_REF=HEAD` packs a commit instead (for a checkout in mid-edit).
 */
export async function packTarball(): Promise<PackedTarball> {
	const ref = process.env.LIGHTSCHED_PACK_REF;
	const dirs = await sourceDirs();
	let key: string;
	if (ref === undefined) {
		const inputs = [...PACKAGE_FILES.map((f) => join(ROOT, f))];
		for (const dir of dirs) inputs.push(...(await listFiles(join(ROOT, dir))));
		key = await hashOf(inputs);
	} else {
		key = (await exec('git', ['rev-parse', `${ref}^{tree}`], { cwd: ROOT })).stdout.trim().slice(0, 16);
	}
	const final = join(CACHE, `pack-${key}`);
	if (!existsSync(join(final, 'done'))) {
		await mkdir(CACHE, { recursive: true });
		const staging = await mkdtemp(join(CACHE, 'staging-'));
		try {
			await copySources(staging, ref, dirs);
			await symlink(join(ROOT, 'node_modules'), join(staging, 'node_modules'), 'dir');
			try {
				await exec(
					process.execPath,
					[join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
					{ cwd: staging, maxBuffer: 16 * 1024 * 1024 },
				);
				// The build script's second step (package.json `build`): the dashboard's assets beside its code.
				await exec(process.execPath, ['scripts/copy-assets.mjs'], { cwd: staging });
			} catch (error) {
				throw new Error(
					`The build (tsc -p tsconfig.build.json, scripts/copy-assets.mjs) failed:\n${(error as { stdout?: string }).stdout ?? ''}`,
					{ cause: error },
				);
			}
			const listing = JSON.parse(
				await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', staging], staging),
			) as { filename: string; files: { path: string }[] }[];
			const packed = listing[0];
			if (packed === undefined) throw new Error('npm pack --json listed no package');
			await writeFile(
				join(staging, 'pack.json'),
				JSON.stringify({ filename: packed.filename, files: packed.files.map((f) => f.path) }),
			);
			await writeFile(join(staging, 'done'), '');
			await publish(staging, final);
		} catch (error) {
			await rm(staging, { recursive: true, force: true });
			throw error;
		}
	}
	const { filename, files } = JSON.parse(await readFile(join(final, 'pack.json'), 'utf8')) as {
		filename: string;
		files: string[];
	};
	return { tarball: join(final, filename), files, dir: final };
}

/**
 * A folder whose `node_modules` holds `dependencies` from the registry (installed once, then cached), with
 * `--ignore-scripts`: no native build runs. Folders made inside it resolve those packages.
 */
export async function dependencyFolder(name: string, dependencies: Readonly<Record<string, string>>): Promise<string> {
	const manifest = { name: `lightsched-packaging-${name}`, private: true, type: 'module', dependencies };
	const key = createHash('sha256').update(JSON.stringify(manifest)).digest('hex').slice(0, 12);
	const final = join(CACHE, `deps-${name}-${key}`);
	if (existsSync(join(final, 'done'))) return final;
	await mkdir(CACHE, { recursive: true });
	const staging = await mkdtemp(join(CACHE, 'staging-'));
	await writeFile(join(staging, 'package.json'), JSON.stringify(manifest, null, 2));
	await npm(['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock'], staging);
	await writeFile(join(staging, 'done'), '');
	await publish(staging, final);
	return final;
}

/** A fresh app folder inside `parent` with the tarball installed through npm, as a user installs it. */
export async function freshApp(parent: string, tarball: string): Promise<string> {
	const app = await mkdtemp(join(parent, 'app-'));
	await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
	await npm(
		['install', tarball, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'],
		app,
	);
	return app;
}

/** Runs a TypeScript compiler (`<folder>/node_modules/<alias>/bin/tsc`) on a project; resolves with its output and exit code. */
export async function typeCheck(tscPackage: string, project: string): Promise<{ code: number; output: string }> {
	try {
		const { stdout } = await exec(process.execPath, [join(tscPackage, 'bin', 'tsc'), '-p', project], {
			maxBuffer: 16 * 1024 * 1024,
		});
		return { code: 0, output: stdout };
	} catch (error) {
		const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
		return { code: typeof code === 'number' ? code : 1, output: `${stdout ?? ''}${stderr ?? ''}` };
	}
}
