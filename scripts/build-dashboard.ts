// Bundles the dashboard (src/dashboard) into dist/dashboard for the gateway to serve at /:
// one script with omnibus/client inside, its page and its styles. Part of `npm run build`.

import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const out = 'dist/dashboard';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['src/dashboard/app.ts'],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  outfile: `${out}/app.js`,
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) copyFileSync(`src/dashboard/${file}`, `${out}/${file}`);
