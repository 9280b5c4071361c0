/**
 * A CPU profile of one part of a bench process (node:inspector), to read with bench/workflows-profile-summary.ts:
 * `startProfile(file)` starts the profiler and returns the function that stops it and writes the profile to `file`.
 */
import { writeFileSync } from 'node:fs';
import inspector from 'node:inspector';

const post = (session: inspector.Session, method: string): Promise<unknown> =>
	new Promise((resolve, reject) =>
		session.post(method, (error, result) => (error ? reject(error) : resolve(result))),
	);

/** Start profiling this process; the function returned stops and writes the profile to `file`. */
export async function startProfile(file: string): Promise<() => Promise<void>> {
	const session = new inspector.Session();
	session.connect();
	await post(session, 'Profiler.enable');
	await post(session, 'Profiler.start');
	return async () => {
		const { profile } = (await post(session, 'Profiler.stop')) as { profile: unknown };
		writeFileSync(file, JSON.stringify(profile));
		session.disconnect();
	};
}
