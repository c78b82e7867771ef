// The page of one framework or one agent: its facts, or why the master
// has none; its tasks, filtered like the tasks page with the subject
// fixed; and what else the page shows about it (offers, containers).

import { esc } from './util.js';
import { tableHtml, bindTables, setHtml, filtersHtml, bindFilters, syncFilters, updateOptions } from './table.js';
import { waitingHtml } from './pages_common.js';
import { taskFields, filterTasks, tasksTable } from './pages_tasks.js';

/**
 * `kind` is `framework` or `agent`, the tasks filter the page fixes.
 * `head(model, id)` is the HTML of the subject, or null when the master
 * does not know it, and `missing` then says why. `before` and `after` are
 * sections around the tasks, drawn by what `attach(main, ctx, id,
 * instance)` returns: `{render(), destroy()?}`.
 */
export function subjectPage({ kind, title, tasksLabel, head, missing, before = '', after = '', attach }) {
  return {
    title,
    mount(main, route, ctx) {
      const id = route.parts[1];
      const model = ctx.model;
      const fixed = { [kind]: id };
      const fields = () => taskFields(model, fixed);
      main.innerHTML = `<div class="subject"></div>${before}<h2>Tasks</h2>${filtersHtml(fields(), route.params, `Filter the ${kind}'s tasks`)}<section class="table-slot" aria-label="${esc(tasksLabel)}"></section>${after}`;
      const subject = main.querySelector('.subject');
      const slot = main.querySelector('.table-slot');
      bindFilters(main, fields(), ctx.setParams, 'tpage');
      bindTables(slot, ctx.setParams);
      const cache = {};
      let parts = null;
      const instance = {
        title: `${title} ${id}`,
        route,
        update(r) {
          instance.route = r;
          syncFilters(main, r.params);
          instance.render();
        },
        render() {
          if (!model.subscribedAt) {
            setHtml(subject, waitingHtml(ctx));
            return;
          }
          const params = instance.route.params;
          updateOptions(main, fields(), params);
          setHtml(subject, head(model, id) ?? `<h1>${esc(title)} <span class="mono">${esc(id)}</span></h1><p class="notice-inline">${esc(missing)}</p>`);
          setHtml(slot, tableHtml({ ...tasksTable(model, fixed, 't'), rows: () => filterTasks(model, params, fixed), params, cache, cacheKey: model.version }));
          if (parts) parts.render();
        },
        destroy() {
          if (parts && parts.destroy) parts.destroy();
        },
      };
      if (attach) parts = attach(main, ctx, id, instance);
      instance.render();
      return instance;
    },
  };
}
