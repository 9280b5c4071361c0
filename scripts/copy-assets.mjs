/**
 * The build's second step (after `tsc -p tsconfig.build.json`): copy the files the build does not compile but the
 * package serves, the dashboard's browser scripts, styles and page (`dashboard/assets/`), next to the compiled
 * dashboard (`dist/dashboard/assets/`), where `dashboard/assets.ts` looks for them first. Run from the package root.
 */
import { cpSync, rmSync } from 'node:fs';

const to = 'dist/dashboard/assets';
rmSync(to, { recursive: true, force: true });
cpSync('dashboard/assets', to, { recursive: true });
