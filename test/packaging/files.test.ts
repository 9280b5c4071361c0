/**
 * What the tarball holds (issue 11 item 14): a LICENSE, the build, and no source map or `sourceMappingURL`
 * naming a file the tarball does not ship. Reads the packed .tgz itself (extracted to a temp folder).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { packTarball, ROOT, type PackedTarball } from './pack.js';

const exec = promisify(execFile);
let packed: PackedTarball;
let extracted: string;

beforeAll(async () => {
	packed = await packTarball();
	extracted = await mkdtemp(join(tmpdir(), 'lightsched-tarball-'));
	await exec('tar', ['-xzf', packed.tarball, '-C', extracted]);
}, 240_000);

/** The files the tarball really holds, relative to its `package/` folder. */
async function tarballFiles(): Promise<Set<string>> {
	const { stdout } = await exec('tar', ['-tzf', packed.tarball]);
	return new Set(
		stdout
			.split('\n')
			.filter((line) => line.length > 0 && !line.endsWith('/'))
			.map((line) => line.replace(/^package\//, '')),
	);
}

describe('the packed tarball', { timeout: 120_000 }, () => {
	it('ships the MIT LICENSE, the README and the build of every export', async () => {
		const files = await tarballFiles();
		expect(files.has('LICENSE')).toBe(true);
		expect(files.has('README.md')).toBe(true);
		const license = await readFile(join(extracted, 'package', 'LICENSE'), 'utf8');
		expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 lightsched contributors\n/);
		const manifest = JSON.parse(await readFile(join(extracted, 'package', 'package.json'), 'utf8')) as {
			license: string;
			exports: Record<string, { types: string; default: string }>;
		};
		expect(manifest.license).toBe('MIT');
		for (const [subpath, target] of Object.entries(manifest.exports)) {
			expect({ subpath, types: files.has(normalize(target.types)) }).toEqual({ subpath, types: true });
			expect({ subpath, code: files.has(normalize(target.default)) }).toEqual({ subpath, code: true });
		}
	});

	it("ships the dashboard's page, scripts and styles, and the installed dashboard serves them", async () => {
		const files = await tarballFiles();
		for (const asset of await readdir(join(ROOT, 'dashboard', 'assets'))) {
			expect({ asset, shipped: files.has(`dist/dashboard/assets/${asset}`) }).toEqual({ asset, shipped: true });
		}
		// The installed package, run by plain node (no source condition), its dependencies beside it and no source
		// tree above it to fall back on.
		const pkg = join(extracted, 'package');
		await symlink(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
		const script = `
			import { startDashboard } from './dist/dashboard/index.js';
			import { QueueContainer } from './dist/containers/queue.js';
			const container = new QueueContainer();
			const dashboard = await startDashboard({ container, port: 0 });
			const page = await fetch(dashboard.url);
			const html = await page.text();
			const src = /<script type="module" src="([^"]+)"/.exec(html)?.[1] ?? '(none)';
			const asset = await fetch(new URL(src, dashboard.url));
			console.log(JSON.stringify({ page: page.status, src, asset: asset.status, type: asset.headers.get('content-type') }));
			await dashboard.close();
			await container.close();
		`;
		const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: pkg });
		expect(JSON.parse(stdout)).toEqual({
			page: 200,
			src: 'assets/app.js',
			asset: 200,
			type: expect.stringMatching(/^text\/javascript/) as unknown,
		});
	});

	it('ships the `lightsched` command: its bin is a built file run by node', async () => {
		const files = await tarballFiles();
		const manifest = JSON.parse(await readFile(join(extracted, 'package', 'package.json'), 'utf8')) as {
			bin: Record<string, string>;
		};
		const bin = manifest.bin.lightsched ?? '(none)';
		expect(files.has(normalize(bin)), bin).toBe(true);
		const text = await readFile(join(extracted, 'package', bin), 'utf8');
		expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
	});

	it('has no source map, and no reference to one, naming a file it does not ship', async () => {
		const files = await tarballFiles();
		const dangling: string[] = [];
		for (const file of files) {
			if (file.endsWith('.map')) {
				const map = JSON.parse(await readFile(join(extracted, 'package', file), 'utf8')) as {
					sources?: string[];
					sourceRoot?: string;
				};
				for (const source of map.sources ?? []) {
					const target = normalize(join(dirname(file), map.sourceRoot ?? '', source));
					if (!files.has(target)) dangling.push(`${file} -> ${target}`);
				}
			} else if (/\.(js|d\.ts)$/.test(file)) {
				const text = await readFile(join(extracted, 'package', file), 'utf8');
				for (const [, url] of text.matchAll(/^\/\/# sourceMappingURL=(\S+)$/gm)) {
					const target = normalize(join(dirname(file), url ?? ''));
					if (!files.has(target)) dangling.push(`${file} -> ${target}`);
				}
			}
		}
		expect(dangling).toEqual([]);
	});
});
