/**
 * ProcessActuator through the actuator contract, with real commands on this machine. Each long command carries a
 * token in its environment, inherited by everything it starts, so the probes find its processes in /proc
 * whatever the task's `ref` says; zombies (exited, not yet reaped: this machine's PID 1 does not reap orphans)
 * do not count as running.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';
import { ProcessActuator, type ProcessOutput, type ProcessTaskItem } from 'lightsched/actuators/process';
import { actuatorContract } from '../contracts/actuator.contract.js';
import { sleep } from '../support/scheduler.js';

const TOKEN = 'LIGHTSCHED_CONTRACT_TOKEN';

/** The pids of live (not zombie) processes whose environment holds `TOKEN=token` (any token when none is given). */
function processesWithToken(token?: string): number[] {
	const found: number[] = [];
	// Tokens end with this test process's pid: another run of this file at the same time has its own.
	const wanted = token === undefined ? `${TOKEN}=long-${process.pid}-` : `${TOKEN}=${token}`;
	for (const name of readdirSync('/proc')) {
		if (!/^\d+$/.test(name)) continue;
		try {
			const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
			const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
			if (state === 'Z' || state === 'X') continue;
			const environ = readFileSync(`/proc/${name}/environ`, 'latin1').split('\0');
			if (environ.some((entry) => (token === undefined ? entry.startsWith(wanted) : entry === wanted)))
				found.push(Number(name));
		} catch {
			// The process ended while we looked.
		}
	}
	return found;
}

// A failed test may leave its commands running: end them, found by the token only this file's commands carry.
afterAll(() => {
	for (const pid of processesWithToken()) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// Gone meanwhile.
		}
	}
});

let tokens = 0;

actuatorContract<ProcessTaskItem, ProcessOutput>(
	'ProcessActuator',
	() => ({
		actuator: () => new ProcessActuator({ killGraceMs: 2_000 }),
		succeeds: {
			item: { command: 'sh', args: ['-c', 'echo hello; echo note >&2'] },
			output: {
				exitCode: 0,
				stdout: 'hello\n',
				stderr: 'note\n',
				stdoutTruncated: false,
				stderrTruncated: false,
			},
		},
		fails: {
			item: { command: 'sh', args: ['-c', 'echo cannot open input >&2; exit 3'] },
			message: /^Command `sh -c 'echo cannot open input >&2; exit 3'` exited with code 3: cannot open input$/,
		},
		long: () => {
			const token = `long-${process.pid}-${++tokens}`;
			return {
				// A shell with two children: the whole group must go, not only the shell. The cwd makes the start
				// asynchronous (it is checked first), so a stop can come while the start is in flight.
				item: {
					command: 'sh',
					args: ['-c', 'sleep 600 & sleep 600; wait'],
					cwd: tmpdir(),
					env: { [TOKEN]: token },
				},
				running: async () => {
					while (processesWithToken(token).length < 3) await sleep(20);
				},
				workGone: () => processesWithToken(token).length === 0,
			};
		},
		timeoutMs: 1_500,
		progress: {
			item: {
				command: 'sh',
				args: ['-c', 'echo "::progress 1"; sleep 0.05; echo \'::progress {"step":2}\'; echo done'],
			},
		},
		badItem: { item: { command: 'ls', args: ['-l', 'x', 3] }, field: 'item.args[2]' },
	}),
	{ progress: true, init: true, stopWhileStarting: true },
);
