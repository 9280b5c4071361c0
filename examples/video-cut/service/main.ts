/**
 * Run the cut service: `npm run example -- examples/video-cut/service/main.ts [--port 8001] [--media ./media]
 * [--host 127.0.0.1] [--realtime]`. Makes a sample video in the media folder on first run.
 */
import { parseArgs } from 'node:util';
import { createCutService } from './server.js';
import { ensureSampleVideo } from './sample.js';

const { values } = parseArgs({
	options: {
		port: { type: 'string', default: '8001' },
		host: { type: 'string', default: '127.0.0.1' },
		media: { type: 'string', default: './media' },
		realtime: { type: 'boolean', default: false },
		'timeout-ms': { type: 'string', default: '300000' },
	},
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535)
	throw new TypeError(`Expected --port to be a port number, got ${values.port}`);
const timeoutMs = Number(values['timeout-ms']);
if (!Number.isInteger(timeoutMs) || timeoutMs < 0)
	throw new TypeError(`Expected --timeout-ms to be an integer >= 0, got ${values['timeout-ms']}`);

const sample = await ensureSampleVideo(values.media);
const service = createCutService({ mediaDir: values.media, timeoutMs, realtime: values.realtime });
const url = await service.listen(port, values.host);
console.log(`cut service on ${url} (media folder ${service.mediaDir}, ffmpeg ${service.ffmpegPath})`);
console.log(`try: curl -s -XPOST ${url}/cuts -d '{"input":"${sample}","start":2,"end":7}'`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.once(signal, () => {
		void service.close().then(() => process.exit(0));
	});
}
