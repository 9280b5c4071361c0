/**
 * CPU time of processes from Linux's /proc, for the benches that weigh a server's CPU per task (bench/sql.ts,
 * bench/churned-queue.ts, bench/workflows-pg-statements.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks a second of /proc's CPU times (USER_HZ, 100 on Linux). */
export const TICKS_PER_SECOND = 100;

/** Clock ticks (user + system) of process `pid`; with `children`, also its reaped children's. 0 when it is gone. */
export function ticks(pid: number | string, children: boolean): number {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		// fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
		const own = Number(fields[11]) + Number(fields[12]);
		return children ? own + Number(fields[13]) + Number(fields[14]) : own;
	} catch {
		return 0;
	}
}

/** The PostgreSQL server's CPU in ticks: the postmaster with its reaped children, plus its live children. */
export function serverTicks(postmaster: number): number {
	let total = ticks(postmaster, true);
	for (const entry of readdirSync('/proc')) {
		if (!/^[0-9]+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
			const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
			if (ppid === postmaster) total += ticks(entry, false);
		} catch {
			// gone meanwhile
		}
	}
	return total;
}
