/**
 * The Docker task item: what a task asks the Docker actuator to run, its validation (with errors that name
 * the field) and its translation into the engine's container-create body.
 */
import { InvalidTaskError } from 'lightsched';
import type Dockerode from 'dockerode';

/** What one Docker task runs. Only these fields are accepted; an unknown field is rejected at `add`. */
export interface DockerTaskItem {
	/** The image reference, such as `busybox` or `registry.example.com/team/tool:1.2`. Required. */
	readonly image: string;
	/** The command (the image's `CMD` when absent), one argument per element: `['sh', '-c', 'echo hi']`. */
	readonly cmd?: readonly string[];
	/** Replaces the image's entrypoint, one argument per element; `[]` clears it. */
	readonly entrypoint?: readonly string[];
	/** Environment variables: `{ NAME: 'value' }` or `['NAME=value']`. */
	readonly env?: Readonly<Record<string, string | number | boolean>> | readonly string[];
	/** The working directory inside the container (an absolute path). */
	readonly workingDir?: string;
	/**
	 * Host folders mounted into the container: `{ '/host/path': '/container/path' }` (append `:ro` to the
	 * container path for read-only) or Docker's own `['/host/path:/container/path:ro']`. Nothing is mounted
	 * unless given.
	 */
	readonly binds?: Readonly<Record<string, string>> | readonly string[];
	/** The memory limit: bytes, or a size such as `'64m'`, `'512k'`, `'1g'` (at least 6 MiB). Swap is not added. */
	readonly memory?: number | string;
	/** CPU share, in CPUs: `0.5` is half a CPU. */
	readonly cpus?: number;
	/** The most processes the container may run. */
	readonly pidsLimit?: number;
	/**
	 * The network the container joins.
	 * @default 'none' (loopback only)
	 */
	readonly network?: string;
	/** The user (and group) the command runs as: `'1000'`, `'1000:1000'`, `'nobody'`. */
	readonly user?: string;
	/** Extra labels. Names starting with `lightsched.` are reserved. */
	readonly labels?: Readonly<Record<string, string>>;
	/** The container's name; it must be unique on the engine while the container exists. */
	readonly name?: string;
}

/** The item after validation, in the engine's terms. */
export interface ResolvedDockerItem {
	readonly image: string;
	readonly create: Dockerode.ContainerCreateOptions;
	/** The memory limit in bytes, when one was given (for the out-of-memory message). */
	readonly memoryBytes: number | undefined;
}

const FIELDS = new Set([
	'image',
	'cmd',
	'entrypoint',
	'env',
	'workingDir',
	'binds',
	'memory',
	'cpus',
	'pidsLimit',
	'network',
	'user',
	'labels',
	'name',
]);
/** Docker refuses smaller memory limits. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
const UNITS: Readonly<Record<string, number>> = {
	'': 1,
	b: 1,
	k: 1024,
	kb: 1024,
	m: 1024 ** 2,
	mb: 1024 ** 2,
	g: 1024 ** 3,
	gb: 1024 ** 3,
};
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ENV_NAME = /^[^=\0]+$/;
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
	const proto = Object.getPrototypeOf(value) as unknown;
	return proto === Object.prototype || proto === null;
}

function fail(field: string, expected: string, got: unknown): never {
	throw new InvalidTaskError(`item.${field}`, expected, got);
}

function stringArray(field: string, value: unknown, allowEmpty: boolean): string[] {
	if (!Array.isArray(value) || (!allowEmpty && value.length === 0)) {
		fail(field, `${allowEmpty ? 'an' : 'a non-empty'} array of strings, one argument per element`, value);
	}
	value.forEach((part: unknown, index) => {
		if (typeof part !== 'string' || part.includes('\0')) fail(`${field}[${index}]`, 'a string', part);
	});
	return [...(value as string[])];
}

function nonEmptyString(field: string, value: unknown, expected = 'a non-empty string'): string {
	if (typeof value !== 'string' || value.trim().length === 0 || value.includes('\0')) fail(field, expected, value);
	return value;
}

/** Parses a memory size: bytes as a number, or `'64m'`, `'512k'`, `'1g'`, `'100000b'`. */
export function parseMemory(value: unknown, field = 'item.memory'): number {
	const expected = `a number of bytes or a size such as '64m', '512k' or '1g' (at least 6 MiB)`;
	let bytes: number;
	if (typeof value === 'number') bytes = value;
	else if (typeof value === 'string') {
		const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
		const unit = UNITS[(match?.[2] ?? 'x').toLowerCase()];
		if (match === null || unit === undefined) throw new InvalidTaskError(field, expected, value);
		bytes = Math.floor(Number(match[1]) * unit);
	} else throw new InvalidTaskError(field, expected, value);
	if (!Number.isSafeInteger(bytes) || bytes < MIN_MEMORY_BYTES) throw new InvalidTaskError(field, expected, value);
	return bytes;
}

/** `64 MiB`, `1.5 GiB`, `300000 bytes`: a byte count for messages. */
export function formatBytes(bytes: number): string {
	for (const [unit, size] of [
		['GiB', 1024 ** 3],
		['MiB', 1024 ** 2],
		['KiB', 1024],
	] as const) {
		if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`;
	}
	return `${bytes} bytes`;
}

function resolveEnv(value: unknown): string[] {
	if (Array.isArray(value)) {
		return value.map((entry: unknown, index) => {
			if (typeof entry !== 'string' || !/^[^=\0]+=/.test(entry) || entry.includes('\0')) {
				fail(`env[${index}]`, "a 'NAME=value' string", entry);
			}
			return entry;
		});
	}
	if (!isPlainObject(value)) fail('env', "an object of names to values or an array of 'NAME=value' strings", value);
	return Object.entries(value).map(([name, entry]) => {
		if (!ENV_NAME.test(name)) fail('env', "variable names without '=' or NUL", name);
		if (typeof entry !== 'string' && typeof entry !== 'number' && typeof entry !== 'boolean') {
			fail(`env.${name}`, 'a string, number or boolean', entry);
		}
		if (typeof entry === 'string' && entry.includes('\0')) fail(`env.${name}`, 'a string without NUL', entry);
		return `${name}=${String(entry)}`;
	});
}

function checkBind(field: string, source: string, target: string, mode: string | undefined): string {
	if (!source.startsWith('/') && !VOLUME_NAME.test(source))
		fail(field, 'an absolute host path or a volume name as the source', source);
	if (!target.startsWith('/')) fail(field, 'an absolute container path as the target', target);
	if (mode !== undefined && !/^[a-zA-Z]+(,[a-zA-Z]+)*$/.test(mode)) fail(field, "a mode such as 'ro' or 'rw'", mode);
	return mode === undefined ? `${source}:${target}` : `${source}:${target}:${mode}`;
}

function resolveBinds(value: unknown): string[] {
	if (Array.isArray(value)) {
		return value.map((entry: unknown, index) => {
			const field = `binds[${index}]`;
			if (typeof entry !== 'string') fail(field, "a '/host/path:/container/path[:ro]' string", entry);
			const [source, target, mode, ...rest] = entry.split(':');
			if (source === undefined || target === undefined || rest.length > 0)
				fail(field, "a '/host/path:/container/path[:ro]' string", entry);
			return checkBind(field, source, target, mode);
		});
	}
	if (!isPlainObject(value))
		fail(
			'binds',
			"an object of host paths to container paths or an array of '/host:/container[:ro]' strings",
			value,
		);
	return Object.entries(value).map(([source, targetAndMode]) => {
		const field = `binds[${JSON.stringify(source)}]`;
		if (typeof targetAndMode !== 'string')
			fail(field, "a container path such as '/data' or '/data:ro'", targetAndMode);
		const [target, mode, ...rest] = targetAndMode.split(':');
		if (target === undefined || rest.length > 0)
			fail(field, "a container path such as '/data' or '/data:ro'", targetAndMode);
		return checkBind(field, source, target, mode);
	});
}

function resolveLabels(value: unknown): Record<string, string> {
	if (!isPlainObject(value)) fail('labels', 'an object of label names to string values', value);
	const labels: Record<string, string> = {};
	for (const [name, label] of Object.entries(value)) {
		if (name.length === 0 || name.startsWith('lightsched.'))
			fail('labels', "label names that do not start with 'lightsched.' (reserved)", name);
		if (typeof label !== 'string') fail(`labels.${name}`, 'a string', label);
		labels[name] = label;
	}
	return labels;
}

/**
 * Checks a task item and turns it into the container-create body (without the actuator's labels).
 * Throws `InvalidTaskError` naming the field (`item.memory`) and what was expected.
 */
export function resolveDockerItem(item: unknown): ResolvedDockerItem {
	if (!isPlainObject(item)) throw new InvalidTaskError('item', 'an object such as `{ image, cmd }`', item);
	for (const key of Object.keys(item)) {
		if (!FIELDS.has(key)) {
			throw new InvalidTaskError(
				`item.${key}`,
				`absent (not a Docker item field; known fields: ${[...FIELDS].join(', ')})`,
				item[key],
			);
		}
	}
	const image = nonEmptyString('image', item.image, "an image reference such as 'busybox' or 'repo/name:tag'");
	if (/\s/.test(image)) fail('image', 'an image reference without spaces', image);
	const host: Dockerode.HostConfig = { NetworkMode: 'none', Privileged: false };
	const create: Dockerode.ContainerCreateOptions = {
		Image: image,
		Tty: false,
		OpenStdin: false,
		AttachStdin: false,
		HostConfig: host,
	};
	if (item.cmd !== undefined) create.Cmd = stringArray('cmd', item.cmd, false);
	if (item.entrypoint !== undefined) {
		const entrypoint = stringArray('entrypoint', item.entrypoint, true);
		create.Entrypoint = entrypoint.length === 0 ? [''] : entrypoint;
	}
	if (item.env !== undefined) create.Env = resolveEnv(item.env);
	if (item.workingDir !== undefined) {
		const dir = nonEmptyString('workingDir', item.workingDir, 'an absolute path inside the container');
		if (!dir.startsWith('/')) fail('workingDir', 'an absolute path inside the container', dir);
		create.WorkingDir = dir;
	}
	if (item.binds !== undefined) host.Binds = resolveBinds(item.binds);
	let memoryBytes: number | undefined;
	if (item.memory !== undefined) {
		memoryBytes = parseMemory(item.memory);
		host.Memory = memoryBytes;
		host.MemorySwap = memoryBytes;
	}
	if (item.cpus !== undefined) {
		const cpus = item.cpus;
		if (typeof cpus !== 'number' || !Number.isFinite(cpus) || cpus < 0.01 || cpus > 1024)
			fail('cpus', 'a number of CPUs between 0.01 and 1024, such as 0.5', cpus);
		host.NanoCpus = Math.round(cpus * 1e9);
	}
	if (item.pidsLimit !== undefined) {
		const limit = item.pidsLimit;
		if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1)
			fail('pidsLimit', 'an integer >= 1', limit);
		host.PidsLimit = limit;
	}
	if (item.network !== undefined)
		host.NetworkMode = nonEmptyString('network', item.network, "a network name such as 'none', 'bridge' or 'host'");
	if (host.NetworkMode === 'none') create.NetworkDisabled = true;
	if (item.user !== undefined)
		create.User = nonEmptyString('user', item.user, "a user such as '1000', '1000:1000' or 'nobody'");
	if (item.labels !== undefined) create.Labels = resolveLabels(item.labels);
	if (item.name !== undefined) {
		const name = item.name;
		if (typeof name !== 'string' || !NAME.test(name))
			fail('name', 'a container name of letters, digits, `_`, `.` and `-`', name);
		create.name = name;
	}
	return { image, create, memoryBytes };
}
