/* global URLSearchParams */
/**
 * Workflow runs: the list (status, definition, key and time-of-creation filters, paging; filtered to the failed runs
 * of a key or definition, their retry in bulk, in the list's time range) and a run's page: its steps as a graph, the selected step's output, error and
 * trace, and the run commands (retry, retryFrom, continue, skip, pause, resume, stop) when the dashboard was given an
 * engine.
 */
import { ago, api, badge, h, jsonBlock, replace, seg, when } from './dom.js';
import { drawGraph } from './graph.js';

const RUN_STATUSES = ['waiting', 'running', 'paused', 'blocked', 'succeeded', 'failed', 'stopped'];

/** A time as a `datetime-local` value (local time, to the millisecond), '' for none. */
function localInputValue(ms) {
	if (ms === '') return '';
	const date = new Date(Number(ms));
	if (Number.isNaN(date.getTime())) return '';
	const pad = (n, width = 2) => String(n).padStart(width, '0');
	return (
		`${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
		`${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
	);
}

/** A `datetime-local` value (local time) in milliseconds since the epoch, as text; '' for none. */
function epochOf(value) {
	if (value === '') return '';
	const ms = new Date(value).getTime();
	return Number.isNaN(ms) ? '' : String(ms);
}

/**
 * The runs list, its state in the hash (`#/runs?status=failed&from=<ms>&to=<ms>`): the time range in milliseconds
 * since the epoch (`from` included, `to` excluded), shown and typed in local time.
 */
export async function renderRuns(target, ctx, params) {
	const status = params.get('status') ?? '';
	const definition = params.get('definition') ?? '';
	const key = params.get('key') ?? '';
	const from = params.get('from') ?? '';
	const to = params.get('to') ?? '';
	const offset = Number(params.get('offset') ?? '0');
	const limit = 50;
	const page = await api('runs', { params: { status, definition, key, from, to, offset, limit, order: 'desc' } });
	const statusSelect = h(
		'select',
		{ id: 'run-status', name: 'status' },
		h('option', { value: '' }, 'every status'),
		RUN_STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)),
	);
	const defInput = h('input', { id: 'run-definition', placeholder: 'definition', value: definition });
	const keyInput = h('input', { id: 'run-key', placeholder: 'key', value: key });
	const timeInput = (id, ms, title) =>
		h('input', { id, type: 'datetime-local', step: '0.001', title, value: localInputValue(ms) });
	const fromInput = timeInput('run-from', from, 'created at or after (local time)');
	const toInput = timeInput('run-to', to, 'created before (local time)');
	const hash = (o) => {
		const p = new URLSearchParams();
		for (const [k, v] of Object.entries({
			status: statusSelect.value,
			definition: defInput.value,
			key: keyInput.value,
			from: epochOf(fromInput.value),
			to: epochOf(toInput.value),
			offset: o === 0 ? '' : String(o),
		}))
			if (v !== '') p.set(k, v);
		const text = p.toString();
		return `#/runs${text === '' ? '' : `?${text}`}`;
	};
	const form = h(
		'form',
		{ class: 'filters' },
		statusSelect,
		defInput,
		keyInput,
		h('label', {}, 'from ', fromInput),
		h('label', {}, 'to ', toInput),
		h('button', { type: 'submit' }, 'Show'),
	);
	form.addEventListener('submit', (event) => {
		event.preventDefault();
		ctx.go(hash(0));
	});
	statusSelect.addEventListener('change', () => ctx.go(hash(0)));
	const rows = page.runs.map((r) =>
		h(
			'tr',
			{ 'data-run': r.id },
			h('td', {}, h('a', { href: `#/run/${seg(r.id)}`, class: 'run-link' }, r.id)),
			h('td', {}, `${r.definition} v${r.version}`),
			h('td', {}, badge(r.status)),
			h('td', {}, r.key ?? ''),
			h(
				'td',
				{},
				Object.entries(r.steps)
					.map(([s, n]) => `${n} ${s}`)
					.join(', '),
			),
			h('td', {}, ago(r.createdAt)),
			h('td', { class: 'error-text' }, r.error ?? ''),
		),
	);
	const last = page.offset + page.runs.length;
	const bulk =
		page.commands &&
		!ctx.info.readOnly &&
		status === 'failed' &&
		(key !== '' || definition !== '') &&
		page.total > 0
			? retryFailedPanel(ctx, { key, definition, from, to }, page.total)
			: null;
	target.append(
		h('h2', { class: 'page' }, 'Workflow runs'),
		form,
		bulk,
		h(
			'table',
			{ class: 'tasks', id: 'run-table' },
			h(
				'thead',
				{},
				h(
					'tr',
					{},
					['run', 'definition', 'status', 'key', 'steps', 'created', 'error'].map((c) => h('th', {}, c)),
				),
			),
			h('tbody', {}, rows.length > 0 ? rows : h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No runs.'))),
		),
		h(
			'p',
			{ class: 'pager' },
			`${page.runs.length === 0 ? 0 : page.offset + 1}–${last} of ${page.total} `,
			page.offset > 0 ? h('a', { href: hash(Math.max(0, page.offset - limit)) }, '← previous') : null,
			' ',
			last < page.total ? h('a', { href: hash(page.offset + limit) }, 'next →') : null,
		),
	);
}

/**
 * "Retry failed (N)" over the failed runs the list shows: those of its key, definition and time range (`filter`, ''
 * for none; the same `from` and `to` the list was read with). Asks to confirm in the page, then retries them (or the
 * oldest `limit`) through `api/runs/retryFailed` and says how many.
 */
function retryFailedPanel(ctx, filter, total) {
	const body = {};
	if (filter.key !== '') body.key = filter.key;
	if (filter.definition !== '') body.definition = filter.definition;
	if (filter.from !== '') body.from = Number(filter.from);
	if (filter.to !== '') body.to = Number(filter.to);
	const shown = (ms) => localInputValue(ms).replace('T', ' ');
	const range = [
		filter.from === '' ? null : `from ${shown(filter.from)}`,
		filter.to === '' ? null : `before ${shown(filter.to)}`,
	]
		.filter((s) => s !== null)
		.join(' and ');
	const scope =
		[
			filter.key === '' ? null : `key ${filter.key}`,
			filter.definition === '' ? null : `definition ${filter.definition}`,
		]
			.filter((s) => s !== null)
			.join(', ') + (range === '' ? '' : ` created ${range}`);
	const limit = h('input', { id: 'retry-failed-limit', type: 'number', min: '1', placeholder: 'all', size: '6' });
	const confirm = h('span', { id: 'retry-failed-confirm-box', hidden: true });
	const open = h('button', { type: 'button', id: 'retry-failed' }, `Retry failed (${total})`);
	open.addEventListener('click', () => {
		const count = limit.value === '' ? `the ${total}` : `the oldest ${limit.value} of the ${total}`;
		replace(
			confirm,
			`Retry ${count} failed runs of ${scope}? `,
			h('button', { type: 'button', id: 'retry-failed-confirm', onclick: run }, 'Retry them'),
			h(
				'button',
				{ type: 'button', id: 'retry-failed-cancel', onclick: () => (confirm.hidden = true) },
				'Cancel',
			),
		);
		confirm.hidden = false;
	});
	function run() {
		confirm.hidden = true;
		const post = limit.value === '' ? body : { ...body, limit: Number(limit.value) };
		void ctx.act('Bulk retry', async () => {
			// `retried` holds the first 100 ids only; `count` is how many were retried.
			const { count } = await api('runs/retryFailed', { post });
			return `Retried ${count} failed run${count === 1 ? '' : 's'}`;
		});
	}
	return h(
		'p',
		{ class: 'buttons action', id: 'retry-failed-panel' },
		open,
		h('label', {}, ' at most ', limit),
		' ',
		confirm,
	);
}

/** A run's page: the graph, the selected step and the commands. */
export async function renderRun(target, ctx, id) {
	const { run, graph, commands } = await api(`runs/${seg(id)}`);
	const command = (name, label, body = {}) =>
		h(
			'button',
			{
				type: 'button',
				id: `run-${name}`,
				onclick: () => ctx.act(label, () => api(`runs/${seg(id)}/${name}`, { post: body })),
			},
			label,
		);
	const runButtons = h('p', { class: 'buttons action' });
	if (commands) {
		if (['failed', 'stopped'].includes(run.status)) runButtons.append(command('retry', 'Retry run'));
		if (['waiting', 'running', 'blocked'].includes(run.status)) runButtons.append(command('pause', 'Pause run'));
		if (run.status === 'paused') runButtons.append(command('resume', 'Resume run'));
		if (['waiting', 'running', 'paused', 'blocked'].includes(run.status))
			runButtons.append(command('stop', 'Stop run'));
	}
	const stepPanel = h(
		'section',
		{ class: 'panel', id: 'step-panel' },
		h('p', { class: 'muted' }, 'Click a step to see it.'),
	);
	const select = (stepId) => {
		const step = run.steps[stepId];
		for (const node of target.querySelectorAll('g.node'))
			node.classList.toggle('selected', node.dataset.step === stepId);
		const buttons = h('p', { class: 'buttons action' });
		if (commands && step !== undefined) {
			if (['failed', 'stopped', 'succeeded', 'blocked', 'paused'].includes(run.status))
				buttons.append(command('retryFrom', `Retry from ${stepId}`, { step: stepId }));
			if (step.status === 'blocked') buttons.append(command('continue', `Continue ${stepId}`, { step: stepId }));
			if (['waiting', 'blocked', 'failed', 'stopped'].includes(step.status))
				buttons.append(command('skip', `Skip ${stepId}`, { step: stepId }));
		}
		replace(
			stepPanel,
			h('h3', {}, 'Step ', h('code', { id: 'step-id' }, stepId), ' ', step ? badge(step.status) : ''),
			buttons,
			step === undefined
				? h('p', { class: 'muted' }, 'Not dispatched yet.')
				: h(
						'div',
						{},
						h(
							'p',
							{},
							`Generation ${step.generation}, attempts ${step.attempts}; started ${when(step.startedAt)}; finished ${when(step.finishedAt)}`,
						),
						step.error
							? h('p', { class: 'error-text' }, `${step.error.code}: ${step.error.message}`)
							: null,
						h('h4', {}, 'Output'),
						jsonBlock(step.output, { id: 'step-output' }),
						h('h4', {}, 'Trace'),
						h('pre', { class: 'logs' }, step.trace.join('\n')),
					),
		);
	};
	target.append(
		h('h2', { class: 'page' }, 'Run ', h('code', { id: 'run-id' }, run.id), ' ', badge(run.status)),
		h(
			'p',
			{},
			`${run.definition} v${run.version}`,
			run.key ? ` · key ${run.key}` : '',
			` · created ${when(run.createdAt)}`,
		),
		run.error ? h('p', { class: 'error-text', id: 'run-error' }, `${run.error.code}: ${run.error.message}`) : null,
		runButtons,
		h('section', { class: 'panel graph-panel' }, drawGraph(graph, run.steps, select)),
		stepPanel,
		h(
			'section',
			{ class: 'panel' },
			h('h3', {}, 'Vars'),
			jsonBlock(run.vars),
			h('h3', {}, 'Shared'),
			jsonBlock(run.shared),
		),
	);
}
