/**
 * The published types, as a user's type check sees them (issue 11 item 12): the packed tarball installed
 * with npm in a fresh folder, type-checked with TypeScript 5 and TypeScript 7 (which no longer loads type
 * packages by default) and `skipLibCheck: false`, so an error inside lightsched's own `.d.ts` files fails.
 * - The README quick start (its tested copy, examples/quick-start.ts) needs no `@types/node`.
 * - Every subpath type-checks with `@types/node` and `"types": ["node"]`, the set-up docs/install.md asks
 *   for when the Redis, SQL or Docker parts are used (their drivers' own types need Node's).
 * The registry downloads are cached under the temp dir (see pack.ts); the first run takes longer.
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dependencyFolder, freshApp, packTarball, ROOT, typeCheck, type PackedTarball } from './pack.js';

const COMPILERS = { ts5: 'npm:typescript@^5.9.3', ts7: 'npm:typescript@^7.0.2' } as const;

/** A user's strict config: what `tsc --init` writes for Node, with library checking on. */
function tsconfig(extra: Record<string, unknown> = {}): string {
	return JSON.stringify({
		compilerOptions: {
			module: 'nodenext',
			target: 'es2022',
			strict: true,
			noEmit: true,
			skipLibCheck: false,
			...extra,
		},
		files: ['index.ts'],
	});
}

let packed: PackedTarball;
let manifest: { exports: Record<string, unknown>; devDependencies: Record<string, string> };

beforeAll(async () => {
	packed = await packTarball();
	// The manifest that was packed (the working tree's may have changed since).
	manifest = JSON.parse(await readFile(join(packed.dir, 'package.json'), 'utf8')) as typeof manifest;
}, 240_000);

describe('the published types (packed tarball, fresh folder)', { timeout: 240_000 }, () => {
	it('the README quick start type-checks with TypeScript 5 and 7 without @types/node', async () => {
		const deps = await dependencyFolder('bare', COMPILERS);
		const app = await freshApp(deps, packed.tarball);
		await copyFile(join(ROOT, 'examples', 'quick-start.ts'), join(app, 'index.ts'));
		await writeFile(join(app, 'tsconfig.json'), tsconfig());
		for (const compiler of Object.keys(COMPILERS)) {
			const result = await typeCheck(join(deps, 'node_modules', compiler), app);
			expect({ compiler, ...result }).toEqual({ compiler, code: 0, output: '' });
		}
	});

	it('every subpath type-checks with TypeScript 5 and 7 given @types/node and "types": ["node"]', async () => {
		const dev = manifest.devDependencies;
		const deps = await dependencyFolder('full', {
			...COMPILERS,
			'@types/node': dev['@types/node'] ?? '^20.19.0',
			dockerode: dev.dockerode ?? '*',
			'@types/dockerode': dev['@types/dockerode'] ?? '*',
			ioredis: dev.ioredis ?? '*',
			// ioredis 6.1.0's .d.ts files import `redis-errors`, whose types it lists only as its own devDependency:
			// with skipLibCheck false every TypeScript user of ioredis 6.1 needs them (docs/install.md says so).
			'@types/redis-errors': '^1.2.3',
			knex: dev.knex ?? '*',
			'prom-client': dev['prom-client'] ?? '*',
		});
		const app = await freshApp(deps, packed.tarball);
		const subpaths = Object.keys(manifest.exports).map((key) =>
			key === '.' ? 'lightsched' : `lightsched/${key.slice(2)}`,
		);
		expect(subpaths).toContain('lightsched/actuators/docker');
		const source = subpaths.map((subpath, i) => `import * as m${i} from '${subpath}';`).join('\n');
		await writeFile(
			join(app, 'index.ts'),
			`${source}\nexport const modules = [${subpaths.map((_, i) => `m${i}`).join(', ')}];\n`,
		);
		await writeFile(join(app, 'tsconfig.json'), tsconfig({ types: ['node'] }));
		for (const compiler of Object.keys(COMPILERS)) {
			const result = await typeCheck(join(deps, 'node_modules', compiler), app);
			expect({ compiler, ...result }).toEqual({ compiler, code: 0, output: '' });
		}
	});
});
