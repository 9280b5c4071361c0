/* global window */
/**
 * A workflow run's steps as a graph: laid out by dagre (loaded as a classic script), drawn as SVG. Each node is a
 * step, coloured by its status through CSS classes; an edge goes from a step to the steps that depend on it.
 */
import { h, svg } from './dom.js';

const NODE_W = 160;
const NODE_H = 46;

/** Draw `graph` (`[{ id, action, dependsOn }]`) with the statuses of `steps`; `onSelect(stepId)` on a click. */
export function drawGraph(graph, steps, onSelect) {
	const dagre = window.dagre;
	if (dagre === undefined) return h('p', { class: 'error' }, 'The graph needs dagre (assets/dagre.js did not load).');
	const g = new dagre.graphlib.Graph();
	g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56, marginx: 12, marginy: 12 });
	g.setDefaultEdgeLabel(() => ({}));
	for (const step of graph) g.setNode(step.id, { width: NODE_W, height: NODE_H });
	for (const step of graph) for (const dep of step.dependsOn) if (g.hasNode(dep)) g.setEdge(dep, step.id);
	dagre.layout(g);
	const size = g.graph();
	const width = Math.ceil(size.width ?? 200);
	const height = Math.ceil(size.height ?? 100);
	const root = svg('svg', {
		class: 'graph',
		id: 'run-graph',
		width,
		height,
		viewBox: `0 0 ${width} ${height}`,
		role: 'img',
		'aria-label': 'the run’s steps',
	});
	root.append(
		svg(
			'defs',
			{},
			svg(
				'marker',
				{
					id: 'arrow',
					viewBox: '0 0 10 10',
					refX: '10',
					refY: '5',
					markerWidth: '8',
					markerHeight: '8',
					orient: 'auto-start-reverse',
				},
				svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }),
			),
		),
	);
	for (const e of g.edges()) {
		const points = g.edge(e).points ?? [];
		const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
		root.append(svg('path', { d, class: 'edge', 'marker-end': 'url(#arrow)', 'data-from': e.v, 'data-to': e.w }));
	}
	for (const step of graph) {
		const node = g.node(step.id);
		const status = steps[step.id]?.status ?? 'waiting';
		const group = svg(
			'g',
			{
				class: `node s-${status}`,
				'data-step': step.id,
				'data-status': status,
				transform: `translate(${(node.x - NODE_W / 2).toFixed(1)}, ${(node.y - NODE_H / 2).toFixed(1)})`,
				tabindex: '0',
			},
			svg('rect', { width: NODE_W, height: NODE_H, rx: '6', ry: '6' }),
			svg('text', { x: '10', y: '19', class: 'step-id' }, clip(step.id, 20)),
			svg(
				'text',
				{ x: '10', y: '36', class: 'step-status' },
				`${status}${step.action ? ` · ${clip(step.action, 12)}` : ''}`,
			),
			svg('title', {}, `${step.id}: ${status}`),
		);
		group.addEventListener('click', () => onSelect(step.id));
		group.addEventListener('keydown', (event) => {
			if (event.key === 'Enter') onSelect(step.id);
		});
		root.append(group);
	}
	return root;
}

function clip(text, max) {
	return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
