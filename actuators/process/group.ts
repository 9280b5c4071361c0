/**
 * Process groups: each command leads its own group (spawned with `detached: true`, which calls setsid), so one
 * signal to `-pgid` reaches the command and everything it started that stayed in the group.
 *
 * On Linux, `/proc` tells a live process from a zombie (an exited process its parent has not reaped yet, such
 * as an orphan under a PID 1 that does not reap) and gives a process's start time, which tells a process from a
 * later one that reuses its pid. Elsewhere `kill(-pgid, 0)` is the only probe.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';

/** Sends `signal` to every process of the group. Returns false when the group has no process left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
	try {
		process.kill(-pgid, signal);
		return true;
	} catch (error) {
		if ((error as { code?: unknown }).code === 'ESRCH') return false;
		throw error;
	}
}

interface ProcStat {
	readonly state: string;
	readonly pgrp: number;
	readonly startTime: string;
}

/** The fields of `/proc/<pid>/stat` this module reads; `null` when there is no such process (or no `/proc`). */
async function procStat(pid: number): Promise<ProcStat | null> {
	try {
		return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
	} catch {
		return null;
	}
}

function parseStat(text: string): ProcStat | null {
	// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
	// priority nice threads itrealvalue starttime …": comm may hold spaces and parentheses, so split after its end.
	const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
	const state = fields[0];
	const pgrp = Number(fields[2]);
	const startTime = fields[19];
	if (state === undefined || startTime === undefined || !Number.isInteger(pgrp)) return null;
	return { state, pgrp, startTime };
}

const hasProc = readFile('/proc/self/stat', 'utf8').then(
	() => true,
	() => false,
);

/**
 * The pids of the group's live (not zombie) processes, on Linux; elsewhere `[pgid]` while `kill(-pgid, 0)` finds
 * any process in the group, else `[]`.
 */
export async function liveMembers(pgid: number): Promise<number[]> {
	if (!signalGroup(pgid, 0)) return [];
	if (!(await hasProc)) return [pgid];
	const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
	const stats = await Promise.all(pids.map(procStat));
	return pids.filter((_, i) => {
		const stat = stats[i];
		return stat != null && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X';
	});
}

/**
 * Resolves once the group has no live process, or after `timeoutMs` (then with false). Polled, every `everyMs`:
 * no event tells of the end of processes that are not our children. Used only while stopping a group.
 */
export async function waitGroupGone(pgid: number, timeoutMs: number, everyMs = 25): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if ((await liveMembers(pgid)).length === 0) return true;
		if (Date.now() >= deadline) return false;
		await new Promise((resolve) => setTimeout(resolve, everyMs));
	}
}

/** Who a process is, beyond its pid: the machine, its boot, and the process's start time (Linux). */
export interface ProcessIdentity {
	/** The machine (`os.hostname()`). */
	readonly host: string;
	/** The machine's boot (Linux `boot_id`), so a pid from before a reboot is not taken for a new process. */
	readonly bootId?: string;
	/** The process's start time in clock ticks since boot (Linux `/proc/<pid>/stat`). */
	readonly startTime?: string;
}

let cachedBootId: string | null | undefined;

/** This boot's id (Linux), read once; `null` without `/proc`. */
function bootId(): string | null {
	if (cachedBootId === undefined) {
		try {
			cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
		} catch {
			cachedBootId = null;
		}
	}
	return cachedBootId;
}

/**
 * The identity of process `pid` on this machine. Synchronous on purpose: called right after the spawn, before the
 * event loop can reap the child, the pid cannot name another process yet (it reads `/proc`, which is in memory).
 */
export function identify(pid: number): ProcessIdentity {
	const boot = bootId();
	let stat: ProcStat | null = null;
	try {
		stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
	} catch {
		// No /proc, or no such process.
	}
	return {
		host: hostname(),
		...(boot === null ? {} : { bootId: boot }),
		...(stat === null ? {} : { startTime: stat.startTime }),
	};
}

/**
 * Whether `pid` on this machine is still the process `identity` describes: same host, same boot, same start
 * time. Without `/proc` (no boot id or start time to compare) the answer is false: a pid alone may name another
 * process by now, and signalling it would hit a stranger.
 */
export async function isSameProcess(pid: number, identity: ProcessIdentity): Promise<boolean> {
	if (identity.host !== hostname() || identity.bootId === undefined || identity.startTime === undefined) return false;
	const now = await procStat(pid);
	return now !== null && bootId() === identity.bootId && now.startTime === identity.startTime;
}
