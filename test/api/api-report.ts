/**
 * The API report: the public types of every subpath of package.json's `exports`, as their declarations, so a change
 * to the public surface shows in review as a change to `api/*.api.md`. Used by `api-report.test.ts`.
 *
 * How: the package's sources (`tsconfig.build.json`) are compiled to declarations in memory (as `npm run build`
 * writes them to `dist/`), then a second program reads those declarations as a user's compiler does (the
 * `types` condition of each subpath, not the `lightsched:source` one). For each subpath, every export is printed
 * with its declaration, sorted by name, then every type of the package those declarations reference but the
 * subpath does not export (a base class, an option type), so a change there shows too.
 */
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** One subpath's report. */
export interface ApiReport {
	/** The subpath as a user imports it: `lightsched`, `lightsched/kit`. */
	readonly subpath: string;
	/** The report file's name under `api/`: `lightsched.api.md`, `lightsched-kit.api.md`. */
	readonly file: string;
	/** The report's text. */
	readonly text: string;
}

interface Manifest {
	readonly name: string;
	readonly exports: Record<string, { readonly types: string }>;
}

function fail(diagnostics: readonly ts.Diagnostic[]): never {
	const host: ts.FormatDiagnosticsHost = {
		getCanonicalFileName: (f) => f,
		getCurrentDirectory: () => process.cwd(),
		getNewLine: () => '\n',
	};
	throw new Error(`Declarations did not build:\n${ts.formatDiagnostics(diagnostics, host)}`);
}

/** Compile the package's sources to declarations in memory: output path → text. */
function buildDeclarations(root: string): Map<string, string> {
	const configPath = join(root, 'tsconfig.build.json');
	const config = ts.readConfigFile(configPath, ts.sys.readFile);
	if (config.error !== undefined) fail([config.error]);
	const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath);
	const options: ts.CompilerOptions = {
		...parsed.options,
		noEmit: false,
		declaration: true,
		emitDeclarationOnly: true,
		declarationMap: false,
	};
	const program = ts.createProgram(parsed.fileNames, options);
	const out = new Map<string, string>();
	const result = program.emit(undefined, (fileName, text) => {
		if (fileName.endsWith('.d.ts')) out.set(resolve(fileName), text);
	});
	const errors = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter(
		(d) => d.category === ts.DiagnosticCategory.Error,
	);
	if (errors.length > 0) fail(errors);
	return out;
}

/** A program over the in-memory declarations, resolving the package's subpaths by their `types` condition. */
function declarationProgram(root: string, files: Map<string, string>, entries: readonly string[]): ts.Program {
	const options: ts.CompilerOptions = {
		target: ts.ScriptTarget.ES2022,
		module: ts.ModuleKind.NodeNext,
		moduleResolution: ts.ModuleResolutionKind.NodeNext,
		strict: true,
		noEmit: true,
		skipLibCheck: true,
		types: ['node'],
		typeRoots: [join(root, 'node_modules', '@types')],
	};
	const host = ts.createCompilerHost(options);
	const readFile = host.readFile.bind(host);
	const fileExists = host.fileExists.bind(host);
	host.readFile = (name) => files.get(resolve(name)) ?? readFile(name);
	host.fileExists = (name) =>
		files.has(resolve(name)) || (!resolve(name).startsWith(join(root, 'dist') + '/') && fileExists(name));
	// The folders of the in-memory declarations exist (the checkout's own `dist/` may be stale or absent).
	const folders = new Set(
		[...files.keys()].flatMap((path) => path.split('/').map((_, i, parts) => parts.slice(0, i).join('/'))),
	);
	const directoryExists = host.directoryExists?.bind(host);
	host.directoryExists = (name) =>
		folders.has(resolve(name)) || (directoryExists?.(name) ?? ts.sys.directoryExists(name));
	const getSourceFile = host.getSourceFile.bind(host);
	host.getSourceFile = (name, language, onError, create) => {
		const text = files.get(resolve(name));
		return text === undefined
			? getSourceFile(name, language, onError, create)
			: ts.createSourceFile(name, text, language, true);
	};
	return ts.createProgram(entries, options, host);
}

/** Whether a declaration belongs to the package (its declarations in `dist/`), not to Node or a dependency. */
function isOwn(root: string, node: ts.Node): boolean {
	return resolve(node.getSourceFile().fileName).startsWith(join(root, 'dist') + '/');
}

/** The declaration's text as printed in the report: its module, then the declaration without `export`/`declare`. */
function printDeclaration(root: string, node: ts.Node): string {
	const file = relative(join(root, 'dist'), node.getSourceFile().fileName).replace(/\.d\.ts$/, '');
	let text = node.getText();
	// A variable's declaration alone (`X: T`) does not say const or let: print its statement.
	if (
		ts.isVariableDeclaration(node) &&
		ts.isVariableDeclarationList(node.parent) &&
		ts.isVariableStatement(node.parent.parent)
	) {
		text = node.parent.parent.getText();
	}
	text = text.replace(/^export\s+/, '').replace(/^declare\s+/, '');
	return `// ${file}\n${text}`;
}

/** The package's own symbols that a declaration refers to by name (type references, base classes, typeof). */
function referencedSymbols(root: string, checker: ts.TypeChecker, node: ts.Node): ts.Symbol[] {
	const found: ts.Symbol[] = [];
	const visit = (child: ts.Node): void => {
		let name: ts.Node | undefined;
		if (ts.isTypeReferenceNode(child)) name = child.typeName;
		else if (ts.isExpressionWithTypeArguments(child)) name = child.expression;
		else if (ts.isTypeQueryNode(child)) name = child.exprName;
		if (name !== undefined) {
			let symbol = checker.getSymbolAtLocation(ts.isQualifiedName(name) ? name.right : name);
			if (symbol !== undefined && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
			if (symbol?.declarations?.some((d) => isOwn(root, d) && !ts.isTypeParameterDeclaration(d)))
				found.push(symbol);
		}
		ts.forEachChild(child, visit);
	};
	visit(node);
	return found;
}

/** The report of one entry point's module. */
function reportOf(root: string, program: ts.Program, subpath: string, entry: string): string {
	const checker = program.getTypeChecker();
	const source = program.getSourceFile(entry);
	if (source === undefined) throw new Error(`${subpath}: no declarations at ${entry}`);
	const moduleSymbol = checker.getSymbolAtLocation(source);
	if (moduleSymbol === undefined) throw new Error(`${subpath}: ${entry} is not a module`);
	const exported = new Map<ts.Symbol, string>();
	for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
		const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
		exported.set(target, symbol.name);
	}
	const sections: string[] = [];
	const printed = new Set<ts.Symbol>();
	const pending: ts.Symbol[] = [];
	const print = (symbol: ts.Symbol, heading: string): void => {
		printed.add(symbol);
		const declarations = (symbol.declarations ?? []).filter((d) => isOwn(root, d));
		if (declarations.length === 0) {
			sections.push(`### ${heading}\n\n\`\`\`ts\n// (declared outside the package)\n\`\`\``);
			return;
		}
		sections.push(
			`### ${heading}\n\n\`\`\`ts\n${declarations.map((d) => printDeclaration(root, d)).join('\n\n')}\n\`\`\``,
		);
		for (const d of declarations) pending.push(...referencedSymbols(root, checker, d));
	};
	const names = [...exported.entries()].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
	for (const [symbol, name] of names) print(symbol, name === symbol.name ? name : `${name} (${symbol.name})`);
	const referenced: ts.Symbol[] = [];
	while (pending.length > 0) {
		const symbol = pending.pop() as ts.Symbol;
		if (printed.has(symbol) || exported.has(symbol)) continue;
		printed.add(symbol);
		referenced.push(symbol);
		for (const d of symbol.declarations ?? [])
			if (isOwn(root, d)) pending.push(...referencedSymbols(root, checker, d));
	}
	const exportSections = sections.splice(0);
	referenced.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
	for (const symbol of referenced) {
		const declarations = (symbol.declarations ?? []).filter((d) => isOwn(root, d));
		sections.push(
			`### ${symbol.name}\n\n\`\`\`ts\n${declarations.map((d) => printDeclaration(root, d)).join('\n\n')}\n\`\`\``,
		);
	}
	return [
		`# API report: \`${subpath}\``,
		'',
		'<!-- Generated by test/api/api-report.test.ts from the declarations `npm run build` writes. Do not edit:',
		'     run `UPDATE_API_REPORT=1 npx vitest run test/api/api-report.test.ts` and review the diff. -->',
		'',
		`## Exports (${exportSections.length})`,
		'',
		exportSections.join('\n\n'),
		'',
		`## Referenced, not exported from \`${subpath}\` (${sections.length})`,
		'',
		sections.length === 0 ? '(none)' : sections.join('\n\n'),
		'',
	].join('\n');
}

/** The report file name of a subpath: `lightsched/containers/sql` → `lightsched-containers-sql.api.md`. */
export function reportFileName(subpath: string): string {
	return `${subpath.replace(/\//g, '-')}.api.md`;
}

/** Build the declarations and the report of every subpath of package.json's `exports`. */
export function buildApiReports(root: string): ApiReport[] {
	const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
	const files = buildDeclarations(root);
	const subpaths = Object.entries(manifest.exports).map(([key, target]) => ({
		subpath: key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`,
		entry: resolve(root, target.types),
	}));
	for (const { subpath, entry } of subpaths) {
		if (!files.has(entry))
			throw new Error(`${subpath}: its types (${relative(root, entry)}) were not built from the sources`);
	}
	const program = declarationProgram(
		root,
		files,
		subpaths.map((s) => s.entry),
	);
	return subpaths.map(({ subpath, entry }) => ({
		subpath,
		file: reportFileName(subpath),
		text: reportOf(root, program, subpath, entry),
	}));
}

/** The folder the reports are committed in. */
export function reportDir(root: string): string {
	return join(root, 'api');
}
