/**
 * `lightsched/testing` as a third party uses it: the packed tarball installed with npm in a fresh folder beside
 * its own vitest (the optional peer dependency), and the contract suites run by that vitest on the package's
 * QueueContainer and FunctionActuator; a container that breaks the contract makes the same run fail.
 * The registry downloads are cached under the temp dir (see pack.ts); the first run takes longer.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { dependencyFolder, freshApp, packTarball, ROOT, type PackedTarball } from './pack.js';

const exec = promisify(execFile);

const CONTRACTS = `
import { describeContainerContract, actuatorContract } from 'lightsched/testing';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';

describeContainerContract('QueueContainer', () => new QueueContainer(), {
	priority: false,
	json: false,
	operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
});

actuatorContract('FunctionActuator', () => ({
	actuator: () =>
		new FunctionActuator(async (item, { signal }) => {
			if (item.fail) throw new Error('asked to fail');
			if (item.long) {
				await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
			}
			return item.n;
		}),
	succeeds: { item: { n: 1 }, output: 1 },
	fails: { item: { fail: true }, message: 'asked to fail' },
	long: () => ({ item: { long: true } }),
}), { progress: false, init: false, stopWhileStarting: true });
`;

/** A container that breaks one clause: it hands out its stored records, not copies. */
const BROKEN = `
import { describeContainerContract } from 'lightsched/testing';
import { QueueContainer } from 'lightsched/containers/queue';

class LeakyContainer extends QueueContainer {
	#last = new Map();
	async get(id) {
		const got = this.#last.get(id) ?? (await super.get(id));
		if (got !== null) this.#last.set(id, got);
		return got;
	}
}

describeContainerContract('LeakyContainer', () => new LeakyContainer(), {
	priority: false,
	json: false,
	operations: { pause: true, clean: true, repeats: true, logs: true, events: true },
});
`;

let packed: PackedTarball;
let vitestFolder: string;

beforeAll(async () => {
	packed = await packTarball();
	const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
		devDependencies: Record<string, string>;
	};
	vitestFolder = await dependencyFolder('vitest', { vitest: manifest.devDependencies.vitest ?? '*' });
}, 300_000);

/** Run the app folder's vitest on one test file; resolves with its exit code and output. */
async function runVitest(app: string, file: string): Promise<{ code: number; output: string }> {
	const bin = join(vitestFolder, 'node_modules', 'vitest', 'vitest.mjs');
	try {
		const { stdout, stderr } = await exec(process.execPath, [bin, 'run', '--reporter=verbose', file], {
			cwd: app,
			env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' },
			maxBuffer: 16 * 1024 * 1024,
			timeout: 240_000,
		});
		return { code: 0, output: `${stdout}${stderr}` };
	} catch (error) {
		const { code, stdout, stderr } = error as { code?: number; stdout?: string; stderr?: string };
		return { code: typeof code === 'number' ? code : 1, output: `${stdout ?? ''}${stderr ?? ''}` };
	}
}

describe("lightsched/testing from the packed tarball, run by the user's own vitest", { timeout: 300_000 }, () => {
	it("the container and actuator contract suites pass on the package's QueueContainer and FunctionActuator", async () => {
		const app = await freshApp(vitestFolder, packed.tarball);
		await writeFile(join(app, 'contracts.test.js'), CONTRACTS);
		const { code, output } = await runVitest(app, 'contracts.test.js');
		expect(output).toMatch(/QueueContainer: container contract/);
		expect(output).toMatch(/Tests\s+\d+ passed/);
		expect(output).toMatch(/FunctionActuator: actuator contract/);
		expect({ code, failed: /Tests\s+\d+ failed/.test(output) }, output).toEqual({ code: 0, failed: false });
	});

	it('a container that hands out its stored records fails the suite', async () => {
		const app = await freshApp(vitestFolder, packed.tarball);
		await writeFile(join(app, 'broken.test.js'), BROKEN);
		const { code, output } = await runVitest(app, 'broken.test.js');
		expect(code, output).not.toBe(0);
		expect(output).toMatch(/hands out copies: changing a returned record changes nothing stored/);
		expect(output).toMatch(/Tests\s+\d+ failed/);
	});
});
