/**
 * Misspelt option names (issue 11 item 8): every actuator constructor, and the nested option objects it
 * validates, rejects an unknown name with a TypeError naming it, where, and the closest known one.
 * No servers needed: the constructors do not connect.
 */
import { describe, expect, it } from 'vitest';
import { FunctionActuator, type WorkerFunctionOptions } from 'lightsched/actuators/function';
import { DockerActuator, type DockerActuatorOptions } from 'lightsched/actuators/docker';
import { HttpActuator, type HttpActuatorOptions } from 'lightsched/actuators/http';

const http: HttpActuatorOptions = {
	baseUrl: 'http://127.0.0.1:1',
	start: { path: '/jobs' },
	status: { path: '/jobs/{ref}' },
	stop: { path: '/jobs/{ref}/stop' },
};

/** Passes an object with a key the types do not allow, as a JavaScript caller would. */
const loose = <T>(value: Record<string, unknown>): T => value as T;

describe('actuator options: unknown names are rejected', () => {
	it('FunctionActuator (worker form) and its resourceLimits', () => {
		expect(() => new FunctionActuator(loose<WorkerFunctionOptions>({ module: '/x.js', maxIdleWorker: 2 }))).toThrow(
			'Unknown option `maxIdleWorker` of FunctionActuator: did you mean `maxIdleWorkers`?',
		);
		expect(() => new FunctionActuator(loose<WorkerFunctionOptions>({ module: '/x.js', exports: 'run' }))).toThrow(
			/`exports` of FunctionActuator: did you mean `export`\?/,
		);
		expect(
			() =>
				new FunctionActuator(
					loose<WorkerFunctionOptions>({ module: '/x.js', resourceLimits: { maxOldGenerationSizeMB: 64 } }),
				),
		).toThrow(
			'Unknown option `maxOldGenerationSizeMB` of FunctionActuator `resourceLimits`: did you mean `maxOldGenerationSizeMb`?',
		);
		expect(
			() => new FunctionActuator(loose<WorkerFunctionOptions>({ module: '/x.js', execArgv: '--import tsx' })),
		).toThrow(/`execArgv` to be an array of strings/);
		expect(
			() =>
				new FunctionActuator({
					module: '/x.js',
					export: 'run',
					maxIdleWorkers: 1,
					execArgv: [],
					resourceLimits: { maxOldGenerationSizeMb: 64 },
				}),
		).not.toThrow();
	});

	it('DockerActuator and cleanupOrphans', async () => {
		expect(
			() =>
				new DockerActuator(
					loose<DockerActuatorOptions>({ docker: { socketPath: '/nowhere.sock' }, keepContainer: true }),
				),
		).toThrow('Unknown option `keepContainer` of DockerActuator: did you mean `keepContainers`?');
		expect(() => new DockerActuator(loose<DockerActuatorOptions>({ logLimitByte: 10 }))).toThrow(
			/`logLimitByte` of DockerActuator: did you mean `logLimitBytes`\?/,
		);
		const actuator = new DockerActuator({
			docker: { socketPath: '/nowhere.sock' },
			pull: 'never',
			keepContainers: false,
			logLimitBytes: 1,
			orphans: 'kill',
			schedulerId: 'x',
			onError: () => undefined,
		});
		await expect(actuator.cleanupOrphans(loose({ getTask: () => null, dryRun: true }))).rejects.toThrow(
			/Unknown option `dryRun` of DockerActuator\.cleanupOrphans/,
		);
	});

	it('HttpActuator and its start, status, output and stop objects', () => {
		expect(() => new HttpActuator(loose<HttpActuatorOptions>({ ...http, timeoutMS: 100 }))).toThrow(
			'Unknown option `timeoutMS` of HttpActuator: did you mean `timeoutMs`?',
		);
		expect(() => new HttpActuator(loose<HttpActuatorOptions>({ ...http, baseURL: 'http://x' }))).toThrow(
			/`baseURL` of HttpActuator: did you mean `baseUrl`\?/,
		);
		expect(
			() => new HttpActuator(loose<HttpActuatorOptions>({ ...http, start: { path: '/jobs', idempotant: true } })),
		).toThrow('Unknown option `idempotant` of HttpActuator `start`: did you mean `idempotent`?');
		expect(
			() =>
				new HttpActuator(loose<HttpActuatorOptions>({ ...http, status: { path: '/j/{ref}', concurency: 2 } })),
		).toThrow(/`concurency` of HttpActuator `status`: did you mean `concurrency`\?/);
		expect(
			() => new HttpActuator(loose<HttpActuatorOptions>({ ...http, stop: { path: '/s', methd: 'DELETE' } })),
		).toThrow(/`methd` of HttpActuator `stop`: did you mean `method`\?/);
		expect(
			() => new HttpActuator(loose<HttpActuatorOptions>({ ...http, output: { path: '/o', mapper: () => 1 } })),
		).toThrow(/`mapper` of HttpActuator `output`/);
		expect(
			() =>
				new HttpActuator({
					...http,
					output: { path: '/o', method: 'GET', map: () => 1 },
					timeoutMs: 5,
					retries: 0,
					retryDelayMs: 0,
					maxStatusFailures: 1,
					headers: {},
				}),
		).not.toThrow();
	});
});
