/* global window */
/**
 * The overview: live counts per status, the queue's pause switch, queue latency, throughput and failure charts
 * (per sample and per minute, drawn with uPlot) and the bulk clean form.
 */
import { api, duration, h } from './dom.js';

const STATUSES = ['waiting', 'running', 'exporting', 'succeeded', 'failed', 'stopped'];
const FINAL = ['succeeded', 'failed', 'stopped'];

/** Render the overview into `target`; it updates itself from the live stats. */
export async function renderOverview(target, ctx) {
	const cards = new Map();
	const grid = h('section', { class: 'cards' });
	for (const status of [...STATUSES, 'total']) {
		const value = h('span', { class: 'count', id: `count-${status}` }, '…');
		cards.set(status, value);
		grid.append(h('div', { class: `card s-${status}` }, h('span', { class: 'label' }, status), value));
	}
	const pausedText = h('span', { id: 'queue-state' }, '…');
	const pauseButton = h('button', { id: 'pause', class: 'action', type: 'button' }, 'Pause queue');
	const resumeButton = h('button', { id: 'resume', class: 'action', type: 'button' }, 'Resume queue');
	pauseButton.addEventListener('click', () => ctx.act('Pause', () => api('queue/pause', { post: {} })));
	resumeButton.addEventListener('click', () => ctx.act('Resume', () => api('queue/resume', { post: {} })));
	const oldest = h('span', { id: 'latency-oldest' }, '…');
	const recent = h('span', { id: 'latency-recent' }, '…');
	const sampled = h('span', { id: 'sampled-at', class: 'muted' }, '');
	const queue = h(
		'section',
		{ class: 'panel queue' },
		h('h2', {}, 'Queue'),
		h('p', {}, 'Claiming: ', pausedText, ' ', pauseButton, resumeButton),
		h('p', {}, 'Oldest waiting task has waited ', oldest, '; recently started tasks waited ', recent, ' (median).'),
		h('p', {}, sampled),
	);
	const secondsHost = h('div', { class: 'chart', id: 'chart-seconds' });
	const minutesHost = h('div', { class: 'chart', id: 'chart-minutes' });
	const charts = h(
		'section',
		{ class: 'panel' },
		h('h2', {}, 'Finished tasks per second'),
		h('h3', {}, 'Each sample (last 5 minutes)'),
		secondsHost,
		h('h3', {}, 'Each minute (last hour)'),
		minutesHost,
	);
	target.append(h('h2', { class: 'page' }, 'Overview'), grid, queue, charts, cleanForm(ctx));

	const plots = {};
	ctx.onStats((stats) => {
		if (stats.counts !== null) {
			let total = 0;
			for (const status of STATUSES) {
				total += stats.counts[status];
				cards.get(status).textContent = String(stats.counts[status]);
			}
			cards.get('total').textContent = String(total);
		}
		if (stats.paused !== null) {
			pausedText.textContent = stats.paused ? 'paused (no worker claims)' : 'running';
			pausedText.className = stats.paused ? 'paused' : 'ok';
			pauseButton.hidden = stats.paused;
			resumeButton.hidden = !stats.paused;
		}
		if (stats.latency !== null) {
			oldest.textContent =
				stats.latency.oldestWaitingMs === null
					? 'nothing (none waiting)'
					: duration(stats.latency.oldestWaitingMs);
			recent.textContent =
				stats.latency.recentWaitMs === null ? '— (none running)' : duration(stats.latency.recentWaitMs);
		}
		sampled.textContent =
			stats.error !== null
				? `Reading the container failed: ${stats.error}`
				: stats.at === null
					? ''
					: `Sampled ${new Date(stats.at).toLocaleTimeString()}`;
		plots.seconds = draw(plots.seconds, secondsHost, stats.seconds, 300);
		plots.minutes = draw(plots.minutes, minutesHost, stats.minutes, 3600);
	});
}

function series(points) {
	return [
		points.map((p) => p.t / 1000),
		points.map((p) => p.succeeded),
		points.map((p) => p.failed),
		points.map((p) => p.stopped),
	];
}

/** Draw or update one chart (uPlot, loaded as a classic script) over the last `span` seconds. */
function draw(plot, host, points, span) {
	const data = series(points);
	host.dataset.points = String(points.length);
	if (plot !== undefined) {
		plot.setData(data);
		return plot;
	}
	const UPlot = window.uPlot;
	if (UPlot === undefined) {
		host.textContent = 'Charts need uPlot (assets/uplot.js did not load).';
		return undefined;
	}
	const width = Math.max(300, host.clientWidth || 800);
	return new UPlot(
		{
			width,
			height: 180,
			series: [
				{},
				{ label: 'succeeded/s', stroke: '#2e7d32', width: 2 },
				{ label: 'failed/s', stroke: '#c62828', width: 2 },
				{ label: 'stopped/s', stroke: '#6d6d6d', width: 1 },
			],
			axes: [{}, { size: 50 }],
			scales: {
				x: {
					time: true,
					range: (_u, _min, max) => [(max ?? Date.now() / 1000) - span, max ?? Date.now() / 1000],
				},
				y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
			},
		},
		data,
		host,
	);
}

function cleanForm(ctx) {
	const status = h(
		'select',
		{ id: 'clean-status' },
		FINAL.map((s) => h('option', { value: s }, s)),
		h('option', { value: FINAL.join(',') }, 'every final status'),
	);
	const older = h('input', { id: 'clean-older', type: 'number', min: '0', value: '60', size: '6' });
	const keep = h('input', { id: 'clean-keep', type: 'number', min: '0', placeholder: 'all', size: '6' });
	const form = h(
		'form',
		{ class: 'panel clean action', id: 'clean-form' },
		h('h2', {}, 'Clean finished tasks'),
		h('label', {}, 'Status ', status),
		h('label', {}, ' finished more than ', older, ' minutes ago'),
		h('label', {}, ' or beyond the newest ', keep),
		' ',
		h('button', { type: 'submit', id: 'clean' }, 'Clean'),
	);
	form.addEventListener('submit', (event) => {
		event.preventDefault();
		const body = { status: status.value.split(',') };
		if (older.value !== '') body.olderThanMs = Math.round(Number(older.value) * 60_000);
		if (keep.value !== '') body.keep = Number(keep.value);
		void ctx.act('Clean', async () => {
			const { removed } = await api('clean', { post: body });
			ctx.lastCleaned = removed;
		});
	});
	return form;
}
