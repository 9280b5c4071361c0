/**
 * A real, private Docker daemon for the tests: `dockerd` in a temp dir, on its own socket, without a bridge
 * network or NAT rules (`--bridge=none --iptables=false --ip-forward=false --ip-masq=false`), and a test image
 * `lightsched/busybox` made locally from Debian's busybox-static (no registry needed). Needs root; installs
 * docker.io and busybox-static with apt when missing, or fails with the command that does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';

const run = promisify(execFile);

export const TEST_IMAGE = 'lightsched/busybox';
const INSTALL = 'apt-get install -y docker.io busybox-static';
const BUSYBOX = '/bin/busybox';

export interface TestDocker {
	/** The temp dir holding the socket, data, exec root, pid file and log. */
	readonly dir: string;
	readonly socketPath: string;
	/** A client for the tests' own checks (the actuator under test makes its own). */
	readonly docker: Dockerode;
	/** The local busybox image, `lightsched/busybox`. */
	readonly image: string;
	/** `overlay2` or `vfs`. */
	readonly storageDriver: string;
	/** Whether the engine can enforce memory limits here (cgroup memory controller). */
	readonly memoryLimit: boolean;
	/** Stops dockerd (removing its containers first) and deletes the temp dir. */
	stop(): Promise<void>;
}

/** Whether the engine still has the container `id` (in any state). */
export async function containerExists(docker: Dockerode, id: string): Promise<boolean> {
	try {
		await docker.getContainer(id).inspect();
		return true;
	} catch (error) {
		if ((error as { statusCode?: number }).statusCode === 404) return false;
		throw error;
	}
}

async function isStaticBusybox(): Promise<boolean> {
	try {
		await run('dpkg-query', ['-W', '-f=${Status}', 'busybox-static']).then(({ stdout }) => {
			if (!stdout.includes('install ok installed')) throw new Error('not installed');
		});
		return existsSync(BUSYBOX);
	} catch {
		return false;
	}
}

async function ensureInstalled(): Promise<void> {
	if (typeof process.getuid === 'function' && process.getuid() !== 0) {
		throw new Error(`The Docker tests start their own dockerd and need root. As root, run: ${INSTALL}`);
	}
	const haveDockerd = existsSync('/usr/sbin/dockerd') || existsSync('/usr/bin/dockerd');
	if (haveDockerd && (await isStaticBusybox())) return;
	try {
		await run('apt-get', ['install', '-y', '-o', 'DPkg::Lock::Timeout=600', 'docker.io', 'busybox-static'], {
			env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
			maxBuffer: 64 * 1024 * 1024,
		});
	} catch (error) {
		throw new Error(
			`Installing docker.io and busybox-static failed; run: ${INSTALL}\n${(error as Error).message}`,
			{ cause: error },
		);
	}
	if (!(await isStaticBusybox())) throw new Error(`busybox-static is still missing; run: ${INSTALL}`);
}

/** Starts dockerd and resolves once its API listens; rejects with the log's end when it exits first. */
function startDaemon(dir: string, storageDriver: string | undefined): Promise<ChildProcess> {
	const args = [
		'--host',
		`unix://${join(dir, 'docker.sock')}`,
		'--data-root',
		join(dir, 'data'),
		'--exec-root',
		join(dir, 'exec'),
		'--pidfile',
		join(dir, 'docker.pid'),
		'--bridge=none',
		'--iptables=false',
		'--ip-forward=false',
		'--ip-masq=false',
		...(storageDriver === undefined ? [] : ['--storage-driver', storageDriver]),
	];
	const child = spawn('dockerd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
	const log = createWriteStream(join(dir, 'dockerd.log'), { flags: 'a' });
	const recent: string[] = [];
	return new Promise((resolve, reject) => {
		const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
		let ready = false;
		lines.on('line', (line) => {
			log.write(`${line}\n`);
			recent.push(line);
			if (recent.length > 20) recent.shift();
			if (!ready && line.includes('API listen on')) {
				ready = true;
				resolve(child);
			}
		});
		child.once('error', reject);
		child.once('exit', (code, signal) => {
			log.end();
			if (!ready)
				reject(new Error(`dockerd exited (${String(code ?? signal)}) before listening:\n${recent.join('\n')}`));
		});
	});
}

/** A rootfs with /bin/busybox and a link per applet, imported as `lightsched/busybox`. */
async function buildImage(docker: Dockerode, dir: string): Promise<void> {
	const rootfs = join(dir, 'rootfs');
	for (const sub of ['bin', 'tmp', 'etc', 'proc', 'sys', 'dev']) await mkdir(join(rootfs, sub), { recursive: true });
	await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
	const { stdout } = await run(BUSYBOX, ['--list']);
	for (const applet of stdout.split('\n').map((s) => s.trim())) {
		if (applet.length > 0 && applet !== 'busybox') await symlink('busybox', join(rootfs, 'bin', applet));
	}
	await mkdir(join(rootfs, 'etc'), { recursive: true });
	const tarPath = join(dir, 'rootfs.tar');
	await run('tar', ['-C', rootfs, '-cf', tarPath, '.']);
	const stream = (await docker.importImage(tarPath, {
		repo: TEST_IMAGE,
		tag: 'latest',
		changes: ['CMD ["sh"]', 'ENV PATH=/bin'],
	} as never)) as unknown as NodeJS.ReadableStream;
	await new Promise<void>((resolve, reject) =>
		docker.modem.followProgress(stream, (error: unknown) => (error ? reject(error) : resolve())),
	);
}

async function removeTree(dir: string): Promise<void> {
	try {
		await rm(dir, { recursive: true, force: true, maxRetries: 3 });
	} catch {
		const mounts = (await readFile('/proc/mounts', 'utf8'))
			.split('\n')
			.map((l) => l.split(' ')[1] ?? '')
			.filter((m) => m.startsWith(dir));
		for (const mount of mounts.reverse()) await run('umount', ['-l', mount]).catch(() => undefined);
		await rm(dir, { recursive: true, force: true, maxRetries: 3 });
	}
}

function stopDaemon(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
		child.once('exit', () => {
			clearTimeout(killer);
			resolve();
		});
		child.kill('SIGTERM');
	});
}

/** Starts a private dockerd (overlay2, else vfs) and imports the test image. */
export async function startDocker(): Promise<TestDocker> {
	await ensureInstalled();
	const dir = await mkdtemp(join(tmpdir(), 'lightsched-docker-'));
	const socketPath = join(dir, 'docker.sock');
	let child: ChildProcess;
	let storageDriver = 'overlay2';
	try {
		try {
			child = await startDaemon(dir, undefined);
		} catch {
			storageDriver = 'vfs';
			await rm(join(dir, 'data'), { recursive: true, force: true });
			child = await startDaemon(dir, 'vfs');
		}
	} catch (error) {
		await removeTree(dir);
		throw error;
	}
	const docker = new Dockerode({ socketPath });
	const stop = async (): Promise<void> => {
		try {
			const all = await docker.listContainers({ all: true });
			await Promise.all(
				all.map((c) =>
					docker
						.getContainer(c.Id)
						.remove({ force: true })
						.catch(() => undefined),
				),
			);
		} catch {
			// The daemon may be gone already.
		}
		await stopDaemon(child);
		await removeTree(dir);
	};
	try {
		const info = (await docker.info()) as { Driver?: string; MemoryLimit?: boolean };
		storageDriver = info.Driver ?? storageDriver;
		await buildImage(docker, dir);
		return {
			dir,
			socketPath,
			docker,
			image: TEST_IMAGE,
			storageDriver,
			memoryLimit: info.MemoryLimit === true,
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}
