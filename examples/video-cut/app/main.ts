/**
 * The video-cut demo, `npm run demo`: makes a sample video on first run, starts the ffmpeg cut service on a
 * free loopback port, starts the web app (plain cut tasks, and cut → thumbnail + preview workflow runs) and
 * prints the page's address.
 *
 * Environment (all optional):
 * - `VIDEO_CUT_DATA_DIR`: where the tasks (SQLite) and the media folder live; default `.demo-data/` at the repo root.
 * - `PORT`: the page's port; default 8000, or a free one when 8000 is taken.
 * - `VIDEO_CUT_REALTIME=0`: cut at full speed; by default the service reads at the video's own speed, so a
 *   10 s cut takes about 10 s and its progress and the Stop button can be watched.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCutService } from '../service/server.js';
import { ensureSampleVideo } from '../service/sample.js';
import { createVideoCutApp, type VideoCutApp } from './server.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const dataDir = resolve(process.env.VIDEO_CUT_DATA_DIR ?? join(repoRoot, '.demo-data'));
const mediaDir = join(dataDir, 'media');
const realtime = process.env.VIDEO_CUT_REALTIME !== '0';
const portText = process.env.PORT;
const port = portText === undefined || portText === '' ? 8000 : Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
	console.error(`Expected PORT to be a port number from 0 to 65535, got ${JSON.stringify(portText)}`);
	process.exit(2);
}

console.log(`Data folder: ${dataDir}`);
const sample = await ensureSampleVideo(mediaDir);
console.log(`Media folder: ${mediaDir} (sample video ${sample})`);
const service = createCutService({ mediaDir, realtime });
const serviceUrl = await service.listen(0, '127.0.0.1');
console.log(`Cut service: ${serviceUrl} (ffmpeg ${service.ffmpegPath}${realtime ? ', real-time speed' : ''})`);

let app: VideoCutApp;
try {
	app = await createVideoCutApp({ dataDir, mediaDir, serviceUrl, port });
} catch (error) {
	if ((error as { code?: unknown }).code !== 'EADDRINUSE' || portText !== undefined) {
		await service.close();
		throw error;
	}
	console.log(`Port ${port} is taken; using a free one.`);
	app = await createVideoCutApp({ dataDir, mediaDir, serviceUrl, port: 0 });
}
const counts = await app.scheduler.counts();
const kept = Object.values(counts).reduce((sum, n) => sum + n, 0);
if (kept > 0) {
	const { restored, recovered } = app.restored;
	console.log(
		`Tasks kept from earlier runs: ${kept} (${restored} waiting to run${recovered > 0 ? `, ${recovered} of them left running when the app last died` : ''})`,
	);
}
console.log(
	`\nVideo cuts page: ${app.url}\n(Ctrl+C to stop; the tasks are kept in ${join(dataDir, 'tasks.db')}, the workflow runs in ${join(dataDir, 'workflows.db')})`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.on(signal, () => {
		if (stopping) process.exit(1);
		stopping = true;
		console.log('\nStopping…');
		void app
			.close()
			.then(() => service.close())
			.then(
				() => process.exit(0),
				(error: unknown) => {
					console.error(error);
					process.exit(1);
				},
			);
	});
}
