// The pages by route name, and the actions of their buttons, for app.js.
// Each page lives in its own module (pages_*.js); what they share is in
// pages_common.js.

import { notFoundPage } from './pages_common.js';
import { overviewPage } from './pages_overview.js';
import { frameworks, frameworkPage } from './pages_frameworks.js';
import { agents, agentPage } from './pages_agents.js';
import { tasks, taskPage } from './pages_tasks.js';
import { roles, offers } from './pages_roles_offers.js';
import { sandboxPage } from './sandbox.js';

export { ACTIONS } from './pages_actions.js';
export { sandboxHref } from './pages_common.js';

export const PAGES = {
  overview: overviewPage,
  frameworks,
  framework: frameworkPage,
  agents,
  agent: agentPage,
  tasks,
  task: taskPage,
  roles,
  offers,
  sandbox: sandboxPage,
  notFound: notFoundPage,
};
