/**
 * The page's files: a fixed map from a name to a file this module knows (the dashboard's own files in
 * `dashboard/assets/`, and uPlot's and dagre's browser builds resolved from their packages). A request only picks
 * a name from the map; no part of a request's path ever becomes a file path. Files are read once and kept.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const HTML = 'text/html; charset=utf-8';

/** The dashboard's own files: next to this module, or (run from the build in `dist/`) in the source tree. */
function ownDir(): string {
	const candidates = [new URL('./assets/', import.meta.url), new URL('../../dashboard/assets/', import.meta.url)];
	const found = candidates.find((url) => existsSync(new URL('index.html', url)));
	return fileURLToPath(found ?? (candidates[0] as URL));
}

const require = createRequire(import.meta.url);
/** A file of an installed package, found from its package.json (so an `exports` map does not hide it). */
function packageFile(name: string, file: string): string {
	return join(dirname(require.resolve(`${name}/package.json`)), file);
}

interface AssetSource {
	readonly file: () => string;
	readonly type: string;
}

const own = (file: string, type: string): AssetSource => ({ file: () => join(ownDir(), file), type });

/** Every file the dashboard serves, by the name in its URL (`assets/<name>`; `index.html` is the page). */
export const ASSETS: Readonly<Record<string, AssetSource>> = {
	'index.html': own('index.html', HTML),
	'style.css': own('style.css', CSS),
	'app.js': own('app.js', JS),
	'dom.js': own('dom.js', JS),
	'overview.js': own('overview.js', JS),
	'tasks.js': own('tasks.js', JS),
	'runs.js': own('runs.js', JS),
	'graph.js': own('graph.js', JS),
	'uplot.js': { file: () => packageFile('uplot', 'dist/uPlot.iife.min.js'), type: JS },
	'uplot.css': { file: () => packageFile('uplot', 'dist/uPlot.min.css'), type: CSS },
	'dagre.js': { file: () => packageFile('@dagrejs/dagre', 'dist/dagre.min.js'), type: JS },
};

/** A loaded file. */
export interface Asset {
	readonly body: Buffer;
	readonly type: string;
	readonly etag: string;
}

const cache = new Map<string, Promise<Asset>>();

/** The file named `name`, or `null` when the map has no such name. */
export function loadAsset(name: string): Promise<Asset> | null {
	if (!Object.hasOwn(ASSETS, name)) return null;
	const source = ASSETS[name] as AssetSource;
	let loading = cache.get(name);
	if (loading === undefined) {
		loading = readFile(source.file()).then((body) => ({
			body,
			type: source.type,
			etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
		}));
		loading.catch(() => cache.delete(name));
		cache.set(name, loading);
	}
	return loading;
}
