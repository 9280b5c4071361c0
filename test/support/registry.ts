/**
 * A minimal read-only Docker registry (the v2 HTTP API a pull uses) on a random loopback port, serving one
 * image built from a rootfs tar. dockerd treats 127.0.0.0/8 registries as insecure, so plain HTTP works and
 * no outside registry is needed to test pulling.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface TestRegistry {
	/** `127.0.0.1:PORT`, the prefix of image references served here. */
	readonly host: string;
	/** Requests seen, as `METHOD path`. */
	readonly requests: string[];
	close(): Promise<void>;
}

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Serves `repository:tag` made of the one layer in `tarPath`, with `CMD ["sh"]` and `PATH=/bin`. */
export async function startRegistry(tarPath: string, repository: string, tag: string): Promise<TestRegistry> {
	const tar = await readFile(tarPath);
	const layer = gzipSync(tar);
	const config = Buffer.from(
		JSON.stringify({
			architecture: 'amd64',
			os: 'linux',
			config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
			rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
		}),
	);
	const manifest = Buffer.from(
		JSON.stringify({
			schemaVersion: 2,
			mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
			config: {
				mediaType: 'application/vnd.docker.container.image.v1+json',
				size: config.length,
				digest: sha256(config),
			},
			layers: [
				{
					mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
					size: layer.length,
					digest: sha256(layer),
				},
			],
		}),
	);
	const blobs = new Map([
		[sha256(config), config],
		[sha256(layer), layer],
	]);
	const requests: string[] = [];
	const server: Server = createServer((req, res) => {
		const path = (req.url ?? '/').split('?')[0] ?? '/';
		requests.push(`${req.method ?? 'GET'} ${path}`);
		res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
		const send = (status: number, body: Buffer, type: string, digest?: string): void => {
			res.statusCode = status;
			res.setHeader('Content-Type', type);
			res.setHeader('Content-Length', body.length);
			if (digest) res.setHeader('Docker-Content-Digest', digest);
			res.end(req.method === 'HEAD' ? undefined : body);
		};
		const notFound = (code: string): void =>
			send(
				404,
				Buffer.from(
					JSON.stringify({
						errors: [{ code, message: `${code.toLowerCase().replace('_', ' ')}`, detail: path }],
					}),
				),
				'application/json',
			);
		if (path === '/v2/' || path === '/v2') return send(200, Buffer.from('{}'), 'application/json');
		const manifestMatch = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
		if (manifestMatch) {
			const [, name, reference] = manifestMatch;
			if (name === repository && (reference === tag || reference === sha256(manifest))) {
				return send(200, manifest, 'application/vnd.docker.distribution.manifest.v2+json', sha256(manifest));
			}
			return notFound('MANIFEST_UNKNOWN');
		}
		const blobMatch = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path);
		const blob = blobMatch ? blobs.get(blobMatch[2] as string) : undefined;
		if (blobMatch && blobMatch[1] === repository && blob)
			return send(200, blob, 'application/octet-stream', blobMatch[2]);
		return notFound('BLOB_UNKNOWN');
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		host: `127.0.0.1:${port}`,
		requests,
		close: () =>
			new Promise((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
