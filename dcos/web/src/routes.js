// The route table: each entry a hash path pattern (router.js `match`), the page component, and
// for top-level pages the navigation label. main.js renders the first match (`bare`: alone,
// without the navigation: the login page).
import { DashboardPage } from './pages/dashboard.js';
import { ServicesPage } from './pages/services.js';
import { ServicePage } from './pages/service.js';
import { ServiceFormPage } from './pages/service_form.js';
import { JobsPage } from './pages/jobs.js';
import { NodesPage, NodePage } from './pages/nodes.js';
import { FrameworksPage } from './pages/frameworks.js';
import { TaskPage } from './pages/task.js';
import { CatalogPage, PackagePage } from './pages/catalog.js';
import { SettingsPage } from './pages/settings.js';
import { LoginPage } from './pages/login.js';

export const ROUTES = [
  { pattern: '/dashboard', page: DashboardPage, nav: 'Dashboard' },
  { pattern: '/services', page: ServicesPage, nav: 'Services' },
  { pattern: '/services/new', page: ServiceFormPage },
  { pattern: '/services/edit/:id', page: ServiceFormPage },
  { pattern: '/services/detail/:id', page: ServicePage },
  { pattern: '/jobs', page: JobsPage, nav: 'Jobs' },
  { pattern: '/nodes', page: NodesPage, nav: 'Nodes' },
  { pattern: '/nodes/:id', page: NodePage },
  { pattern: '/frameworks', page: FrameworksPage, nav: 'Frameworks' },
  { pattern: '/tasks/:id', page: TaskPage },
  { pattern: '/catalog', page: CatalogPage, nav: 'Catalog' },
  { pattern: '/catalog/:name', page: PackagePage },
  { pattern: '/settings', page: SettingsPage, nav: 'Settings' },
  { pattern: '/login', page: LoginPage, bare: true }, // no navigation around it (main.js)
];
