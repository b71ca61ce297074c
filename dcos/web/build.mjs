// Build the web UI into dist/ (called by `make web`; the gateway serves dist/).
// Bundles src/main.js and its npm imports (preact, htm, uplot) into dist/assets/app.js, and
// copies index.html, src/style.css and uPlot's stylesheet beside it. Nothing is fetched at run
// time: the built files travel inside the Python package.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });

await build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  outfile: join(dist, 'assets', 'app.js'),
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(dist, 'index.html'));
copyFileSync(join(here, 'src', 'style.css'), join(dist, 'assets', 'style.css'));
copyFileSync(join(here, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), join(dist, 'assets', 'uplot.css'));
writeFileSync(join(dist, '.built'), new Date().toISOString() + '\n');
