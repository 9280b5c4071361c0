/**
 * Docker throughput: short containers (`true`) per second through lightsched (Scheduler + QueueContainer +
 * DockerActuator: create, start, wait, logs, remove) against the bare dockerode sequence create/start/
 * wait/remove with the same create body, in the same run, at concurrency 1 and 4; medians of ROUNDS rounds,
 * interleaved. The overhead ratio is lightsched's time over the bare sequence's (goal <= 1.10).
 *
 *   npm run bench:docker        (as root; starts its own dockerd like the tests. DOCKER_SOCKET and
 *                                DOCKER_IMAGE use an existing daemon instead; CONTAINERS=50 ROUNDS=3)
 */
import Dockerode from 'dockerode';
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { DockerActuator } from 'lightsched/actuators/docker';
import { startDocker, type TestDocker } from '../test/support/docker.js';
import { median } from './stats.js';

const CONTAINERS = Number(process.env.CONTAINERS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCIES = [1, 4];

let own: TestDocker | undefined;
let socketPath = process.env.DOCKER_SOCKET;
let image = process.env.DOCKER_IMAGE ?? 'busybox';
if (socketPath === undefined) {
	own = await startDocker();
	socketPath = own.socketPath;
	image = own.image;
}
const docker = new Dockerode({ socketPath });
const CMD = ['true'];

type Runner = (concurrency: number) => Promise<number>;

const runners: Record<string, Runner> = {
	async 'bare dockerode'(concurrency) {
		let next = 0;
		const worker = async (): Promise<void> => {
			while (next < CONTAINERS) {
				const i = next++;
				const container = await docker.createContainer({
					Image: image,
					Cmd: CMD,
					Labels: { bench: 'bare', n: String(i) },
					HostConfig: { NetworkMode: 'none' },
					NetworkDisabled: true,
				});
				await container.start();
				const { StatusCode } = (await container.wait({ condition: 'not-running' })) as { StatusCode: number };
				if (StatusCode !== 0) throw new Error(`bare container exited with ${StatusCode}`);
				await container.remove({ force: true, v: true });
			}
		};
		const started = performance.now();
		await Promise.all(Array.from({ length: concurrency }, worker));
		return performance.now() - started;
	},
	async lightsched(concurrency) {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new DockerActuator({ docker, schedulerId: 'bench' }),
			concurrency,
		});
		let succeeded = 0;
		scheduler.on('task:succeeded', () => succeeded++);
		scheduler.on('task:failed', ({ error }) => console.error(error.message));
		const started = performance.now();
		await scheduler.add(Array.from({ length: CONTAINERS }, () => ({ item: { image, cmd: CMD } })));
		await scheduler.onIdle();
		const ms = performance.now() - started;
		await scheduler.close();
		if (succeeded !== CONTAINERS) throw new Error(`lightsched finished ${succeeded} of ${CONTAINERS}`);
		return ms;
	},
};

const rate = (ms: number): string => ((CONTAINERS / ms) * 1000).toFixed(2);

try {
	const version = await docker.version();
	console.log(
		`# Docker throughput: ${CONTAINERS} containers \`${CMD.join(' ')}\`, median of ${ROUNDS} rounds (containers/s)`,
	);
	console.log(`node ${process.version}, Docker ${version.Version}, ${new Date().toISOString()}`);
	console.log('| concurrency | lightsched | bare dockerode | overhead (time ratio) |');
	console.log('|---:|---:|---:|---:|');
	for (const concurrency of CONCURRENCIES) {
		const times: Record<string, number[]> = {};
		for (const run of Object.values(runners)) await run(concurrency); // warm-up
		for (let round = 0; round < ROUNDS; round++) {
			// Interleaved, so a noisy moment hits both alike.
			for (const [name, run] of Object.entries(runners)) (times[name] ??= []).push(await run(concurrency));
		}
		const ours = median(times.lightsched ?? []);
		const bare = median(times['bare dockerode'] ?? []);
		console.log(`| ${concurrency} | ${rate(ours)} | ${rate(bare)} | ${(ours / bare).toFixed(3)} |`);
	}
} finally {
	await own?.stop();
}
