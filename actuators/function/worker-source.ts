/**
 * The code of a `FunctionActuator` worker thread (run with `eval: true`, so CommonJS): it loads the module
 * once, then runs one call per `run` message, posting progress and the outcome back.
 *
 * TypeScript modules: a `.ts` (`.mts`, `.cts`, `.tsx`) module that Node cannot load by itself
 * (`ERR_UNKNOWN_FILE_EXTENSION`) is loaded through tsx's API (`tsx/esm/api` `tsImport`) when the app has tsx
 * installed (found from the module's folder, else from the working directory). Node 20 ignores `--import`
 * in a worker thread's `execArgv`, so `execArgv: ['--import', 'tsx']` alone cannot load it there; with this
 * fallback a `.ts` module works on every Node version in `engines`, with or without that `execArgv`.
 */
export const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');
const { dirname, join } = require('node:path');
const TYPESCRIPT = /\\.(?:[cm]?ts|tsx)$/;

/** The file URL of tsx's ESM API entry, resolved from \`base\` through tsx's own export map; undefined without tsx. */
function tsxApiFrom(base) {
	try {
		const requireFrom = createRequire(base);
		const manifestPath = requireFrom.resolve('tsx/package.json');
		const target = requireFrom(manifestPath).exports?.['./esm/api']?.import;
		const entry = typeof target === 'string' ? target : target?.default;
		return typeof entry === 'string' ? pathToFileURL(join(dirname(manifestPath), entry)).href : undefined;
	} catch {
		return undefined;
	}
}

async function load(url) {
	try {
		return await import(url);
	} catch (error) {
		if (error?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !TYPESCRIPT.test(new URL(url).pathname)) throw error;
		const api = tsxApiFrom(url) ?? tsxApiFrom(pathToFileURL(join(process.cwd(), 'noop.js')).href);
		if (api === undefined) {
			throw new Error('Cannot load the TypeScript module ' + url + ' in a worker thread: Node ' + process.version + ' cannot run TypeScript by itself, and tsx was not found from the module or the working directory. Install tsx in the app (npm install --save-dev tsx), or point \`module\` at the compiled .js file', { cause: error });
		}
		const { tsImport } = await import(api);
		return tsImport(url, url);
	}
}

const loaded = load(workerData.module).then((mod) => {
	let fn = mod[workerData.exportName];
	// A .ts file compiled as CommonJS (no "type": "module" above it): its exports are the namespace's default.
	if (typeof fn !== 'function' && mod.default !== null && typeof mod.default === 'object') fn = mod.default[workerData.exportName];
	if (typeof fn !== 'function') throw new TypeError('Expected export \\\`' + workerData.exportName + '\\\` of ' + workerData.module + ' to be a function, got ' + typeof fn);
	return fn;
});
const serialize = (e) => e instanceof Error
	? { message: e.message, name: e.name, code: e.code, stack: e.stack }
	: { message: typeof e === 'string' ? e : 'Non-error value thrown: ' + (() => { try { return JSON.stringify(e); } catch { return String(e); } })(), name: 'Error' };
let controller = null;
parentPort.on('message', async (message) => {
	if (message.type === 'abort') { controller?.abort(message.reason); return; }
	controller = new AbortController();
	try {
		const fn = await loaded;
		const output = await fn(message.item, {
			signal: controller.signal,
			progress: (progress) => parentPort.postMessage({ type: 'progress', progress }),
			log: (line) => parentPort.postMessage({ type: 'log', line: String(line) }),
			task: message.task,
		});
		parentPort.postMessage({ type: 'done', ok: true, output });
	} catch (error) {
		parentPort.postMessage({ type: 'done', ok: false, error: serialize(error) });
	}
});
`;
