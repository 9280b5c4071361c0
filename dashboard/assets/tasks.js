/* global URLSearchParams */
/**
 * The task list (status filter, search by id or key, order, offset paging) and a task's page (its record, item,
 * output, error, progress, ref, timeline and logs, with stop, retry and remove).
 */
import { ago, api, badge, duration, h, jsonBlock, seg, when } from './dom.js';

const STATUSES = ['waiting', 'running', 'exporting', 'succeeded', 'failed', 'stopped'];

function listHash(params) {
	const clean = new URLSearchParams();
	for (const [k, v] of params) if (v !== '') clean.set(k, v);
	const query = clean.toString();
	return `#/tasks${query === '' ? '' : `?${query}`}`;
}

/** The task list, its state in the page's hash (`#/tasks?status=failed&offset=50`). */
export async function renderTasks(target, ctx, params) {
	const status = params.get('status') ?? '';
	const q = params.get('q') ?? '';
	const order = params.get('order') ?? 'desc';
	const limit = Number(params.get('limit') ?? '50');
	const offset = Number(params.get('offset') ?? '0');
	const page = await api('tasks', { params: { status, q, order, limit, offset } });

	const statusSelect = h(
		'select',
		{ id: 'filter-status', name: 'status' },
		h('option', { value: '' }, 'every status'),
		STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)),
	);
	const search = h('input', { id: 'search', name: 'q', type: 'search', placeholder: 'task id or key', value: q });
	const orderSelect = h(
		'select',
		{ id: 'order', name: 'order' },
		h('option', { value: 'desc', selected: order === 'desc' }, 'newest first'),
		h('option', { value: 'asc', selected: order === 'asc' }, 'oldest first'),
	);
	const form = h(
		'form',
		{ class: 'filters', id: 'filters' },
		statusSelect,
		search,
		orderSelect,
		h('button', { type: 'submit' }, 'Show'),
	);
	const submit = () =>
		ctx.go(
			listHash(
				new URLSearchParams({
					status: statusSelect.value,
					q: search.value,
					order: orderSelect.value,
					limit: String(limit),
				}),
			),
		);
	form.addEventListener('submit', (event) => {
		event.preventDefault();
		submit();
	});
	statusSelect.addEventListener('change', submit);
	orderSelect.addEventListener('change', submit);

	const rows = page.tasks.map((t) =>
		h(
			'tr',
			{ 'data-id': t.id },
			h('td', {}, h('a', { href: `#/task/${seg(t.id)}`, class: 'task-link' }, t.id)),
			h('td', {}, badge(t.status), t.stopRequested ? ' (stop requested)' : ''),
			h('td', {}, `${t.attempts}/${t.maxAttempts}`),
			h('td', {}, String(t.priority)),
			h('td', {}, t.key ?? ''),
			h('td', { title: new Date(t.updatedAt).toISOString() }, ago(t.updatedAt)),
			h('td', { class: 'error-text' }, t.error ?? ''),
		),
	);
	const table = h(
		'table',
		{ class: 'tasks', id: 'task-table' },
		h(
			'thead',
			{},
			h(
				'tr',
				{},
				['id', 'status', 'attempts', 'priority', 'key', 'updated', 'last error'].map((c) => h('th', {}, c)),
			),
		),
		h('tbody', {}, rows.length > 0 ? rows : h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No tasks.'))),
	);
	const first = page.tasks.length === 0 ? 0 : page.offset + 1;
	const last = page.offset + page.tasks.length;
	const to = (o) =>
		listHash(new URLSearchParams({ status, q, order, limit: String(limit), offset: String(Math.max(0, o)) }));
	// The total is exact on the last page; on the others it comes from the sampled counts (no page counts the
	// matching tasks: slow with millions in SQL), or is only known to be at least so many.
	const range = `${first}–${last} of ${page.totalFrom === 'at-least' ? `at least ${page.total}` : page.total}`;
	const rangeTitle =
		page.totalFrom === 'sample'
			? `The total is from the counts sampled ${when(page.sampledAt)}, not counted for this page`
			: page.totalFrom === 'at-least'
				? 'The counts could not be read: the total is only a lower bound'
				: 'The total was read with this page';
	const pager = h(
		'p',
		{ class: 'pager' },
		h('span', { id: 'page-range', title: rangeTitle, 'data-total-from': page.totalFrom }, range),
		' ',
		page.offset > 0 ? h('a', { href: to(page.offset - limit), id: 'prev' }, '← previous') : null,
		' ',
		page.more ? h('a', { href: to(page.offset + limit), id: 'next' }, 'next →') : null,
	);
	target.append(h('h2', { class: 'page' }, 'Tasks'), form, table, pager);
}

/** A task's page. */
export async function renderTask(target, ctx, id) {
	const { task, timeline, logs } = await api(`tasks/${seg(id)}`);
	const final = ['succeeded', 'failed', 'stopped'].includes(task.status);
	const buttons = h('p', { class: 'buttons action' });
	const action = (name, label) =>
		h(
			'button',
			{
				type: 'button',
				id: `task-${name}`,
				onclick: () => ctx.act(label, () => api(`tasks/${seg(id)}/${name}`, { post: {} })),
			},
			label,
		);
	if (!final) buttons.append(action('stop', 'Stop'));
	if (final) buttons.append(action('retry', 'Retry'));
	if (final) {
		const remove = h('button', { type: 'button', id: 'task-remove' }, 'Remove');
		remove.addEventListener('click', () =>
			ctx.act('Remove', async () => {
				await api(`tasks/${seg(id)}/remove`, { post: {} });
				ctx.go('#/tasks');
			}),
		);
		buttons.append(remove);
	}
	const field = (name, value) => h('tr', {}, h('th', {}, name), h('td', {}, value));
	const fields = h(
		'table',
		{ class: 'fields', id: 'task-fields' },
		field('status', [badge(task.status), task.stopRequested ? ' (stop requested)' : '']),
		field('attempts', `${task.attempts} of ${task.maxAttempts}`),
		field('priority', String(task.priority)),
		field('key', task.key ?? '—'),
		field('arrival (seq)', String(task.seq)),
		field('created', when(task.createdAt)),
		field('due', when(task.runAt)),
		field('started', when(task.startedAt)),
		field('finished', when(task.finishedAt)),
		field(
			'timeout',
			task.timeoutMs === null ? 'the scheduler’s' : task.timeoutMs === 0 ? 'none' : duration(task.timeoutMs),
		),
		field('owner', task.owner ?? '—'),
		field('lease until', when(task.leaseUntil)),
	);
	const section = (title, ...content) => h('section', { class: 'panel' }, h('h3', {}, title), ...content);
	const logSection =
		logs === null
			? h('p', { class: 'muted' }, 'This container keeps no logs.')
			: h(
					'div',
					{},
					h(
						'p',
						{ class: 'muted' },
						`${logs.total} lines logged${logs.dropped > 0 ? `, the oldest ${logs.dropped} dropped` : ''}; the newest ${logs.lines.length} shown.`,
					),
					h(
						'pre',
						{ class: 'logs', id: 'task-logs' },
						logs.lines.map((line, i) => `${String(logs.offset + i).padStart(5)}  ${line}\n`).join(''),
					),
				);
	target.append(
		h('h2', { class: 'page' }, 'Task ', h('code', { id: 'task-id' }, task.id)),
		buttons,
		h(
			'div',
			{ class: 'columns' },
			section('Record', fields),
			section(
				'Timeline',
				h(
					'ol',
					{ class: 'timeline', id: 'task-timeline' },
					timeline.map((e) =>
						h('li', {}, h('span', { class: 'muted' }, new Date(e.at).toLocaleString()), ' ', e.what),
					),
				),
			),
		),
		section('Item', jsonBlock(task.item, { id: 'task-item' })),
		section('Output', jsonBlock(task.output, { id: 'task-output' })),
		section(
			'Error',
			task.error === null
				? h('p', { class: 'muted' }, 'none')
				: h('p', { class: 'error-text', id: 'task-error' }, `${task.error.code}: ${task.error.message}`),
		),
		section('Progress', jsonBlock(task.progress, { id: 'task-progress' })),
		section('Ref (the actuator’s handle)', jsonBlock(task.ref, { id: 'task-ref' })),
		section('Logs', logSection),
	);
}
