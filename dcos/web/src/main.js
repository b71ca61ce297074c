// The UI's entry point: the layout (navigation + the page of the current hash route). On a
// route change the focus moves to the page's content (main) and the title follows the page.
import { html, render, useEffect, useRef } from './lib.js';
import { match, useRoute, href } from './router.js';
import { ROUTES } from './routes.js';

function findPage(path) {
  for (const r of ROUTES) {
    const params = match(r.pattern, path);
    if (params) return { route: r, params };
  }
  return null;
}

function Nav({ path }) {
  return html`<nav class="sidebar" aria-label="Main">
    <a class="brand" href=${href('/dashboard')}>dcos-py</a>
    <ul>
      ${ROUTES.filter((r) => r.nav).map((r) => {
        const current = path === r.pattern || path.startsWith(r.pattern + '/');
        return html`<li><a href=${href(r.pattern)} aria-current=${current ? 'page' : undefined}
          class=${current ? 'active' : ''}>${r.nav}</a></li>`;
      })}
    </ul>
  </nav>`;
}

function App() {
  const route = useRoute();
  const found = findPage(route.path);
  const Page = found && found.route.page;
  const first = useRef(true);
  useEffect(() => {
    // a new page: keyboard and screen-reader users start at its content, not at the top
    if (first.current) first.current = false;
    else document.getElementById('main')?.focus({ preventScroll: false });
    const title = found && (found.route.nav || (found.route.bare && 'Log in'));
    document.title = title ? `${title} · dcos-py` : 'dcos-py';
  }, [route.path]);
  if (found && found.route.bare) {
    return html`<main id="main" tabindex="-1" class="bare">
      <${Page} key=${route.path} params=${found.params} query=${route.query} />
    </main>`;
  }
  return html`<a class="skip" href="#main" onClick=${(e) => {
    e.preventDefault();
    document.getElementById('main')?.focus();
  }}>Skip to the content</a>
  <div class="layout">
    <${Nav} path=${route.path} />
    <main id="main" tabindex="-1">
      ${Page
        ? html`<${Page} key=${route.path} params=${found.params} query=${route.query} />`
        : html`<h1>Not found</h1><p>No page at <code>${route.path}</code>. <a href=${href('/dashboard')}>Dashboard</a></p>`}
    </main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
