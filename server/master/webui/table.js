// Tables with sorting and paging, and the filter controls above them. The
// state of both lives in the URL hash (`sort`, `page`, filters), so a link
// reproduces the view. Only the visible page of rows becomes HTML.

import { esc, fmtInt, debounce } from './util.js';

export const PAGE_SIZE = 100;

function compare(a, b) {
  const x = a[0];
  const y = b[0];
  if (x === y) return 0;
  if (x === undefined || x === null || x === '') return 1;
  if (y === undefined || y === null || y === '') return -1;
  return x < y ? -1 : 1;
}

function sortRows(rows, column, descending) {
  if (!column) return rows;
  const decorated = rows.map((row) => [column.sort(row), row]);
  decorated.sort(compare);
  if (descending) decorated.reverse();
  return decorated.map((d) => d[1]);
}

/** What a table's rows depend on in the URL: every parameter but the
 * pages (`page`, `tpage`, ...), which only choose the slice shown. */
function viewKey(cacheKey, params) {
  const kept = [...params].filter(([name]) => !name.endsWith('page'));
  return `${cacheKey}|${new URLSearchParams(kept)}`;
}

/**
 * The HTML of a table showing one page of `rows`.
 *
 * `columns`: `[{key, label, cell(row) -> HTML, sort(row) -> value?, className?}]`
 * (a column without `sort` cannot be sorted). `params` (URLSearchParams)
 * carries `<prefix>sort` (`key` or `-key`) and `<prefix>page` (from 1).
 * `rows` is an array, or a function computing it. With `cache` (an object
 * the caller keeps for this table) and `cacheKey` (what else the rows
 * depend on: the model's version), the filtered, sorted rows are kept, and
 * reused while neither the key nor the filters nor the order change, so
 * paging through many rows costs one page of HTML.
 */
export function tableHtml({ id, caption, columns, rows, params, prefix = '', defaultSort, cache, cacheKey, empty, noun = 'rows', rowClass }) {
  const sortParam = params.get(`${prefix}sort`) || defaultSort || '';
  const descending = sortParam.startsWith('-');
  const sortKey = descending ? sortParam.slice(1) : sortParam;
  const key = cache && cacheKey !== undefined ? viewKey(cacheKey, params) : null;
  let sorted;
  if (key !== null && cache.key === key) {
    sorted = cache.rows;
  } else {
    sorted = sortRows(typeof rows === 'function' ? rows() : rows, columns.find((c) => c.key === sortKey && c.sort), descending);
    if (key !== null) {
      cache.key = key;
      cache.rows = sorted;
    }
  }
  const pages = Math.max(1, Math.ceil(sorted.length / PAGE_SIZE));
  const page = Math.min(pages, Math.max(1, parseInt(params.get(`${prefix}page`) || '1', 10) || 1));
  const start = (page - 1) * PAGE_SIZE;
  const visible = sorted.slice(start, start + PAGE_SIZE);

  const head = columns
    .map((c) => {
      const cls = c.className ? ` class="${c.className}"` : '';
      if (!c.sort) return `<th scope="col"${cls}>${esc(c.label)}</th>`;
      const active = c.key === sortKey;
      const aria = active ? ` aria-sort="${descending ? 'descending' : 'ascending'}"` : '';
      const arrow = active ? (descending ? '▼' : '▲') : '';
      const next = active && !descending ? `-${c.key}` : c.key;
      const label = `Sort by ${c.label}${active ? (descending ? ', now descending' : ', now ascending') : ''}`;
      return `<th scope="col"${cls}${aria}><button type="button" class="sort" data-sort="${esc(next)}" data-prefix="${esc(prefix)}" data-fk="${esc(id)}-sort-${esc(c.key)}" aria-label="${esc(label)}">${esc(c.label)}<span class="arrow" aria-hidden="true">${arrow}</span></button></th>`;
    })
    .join('');
  const body = visible.length
    ? visible
        .map((row) => {
          const cls = rowClass ? rowClass(row) : '';
          return `<tr${cls ? ` class="${cls}"` : ''}>${columns.map((c) => `<td${c.className ? ` class="${c.className}"` : ''}>${c.cell(row)}</td>`).join('')}</tr>`;
        })
        .join('')
    : `<tr><td colspan="${columns.length}" class="empty">${esc(empty || `No ${noun}.`)}</td></tr>`;
  const range = sorted.length ? `${fmtInt(start + 1)}–${fmtInt(start + visible.length)} of ${fmtInt(sorted.length)} ${noun}` : `0 ${noun}`;
  const button = (target, text, label, disabled) =>
    `<button type="button" class="page-button" data-page="${target}" data-prefix="${esc(prefix)}" data-fk="${esc(id)}-page-${text}" aria-label="${esc(label)}"${disabled ? ' disabled' : ''}>${text}</button>`;
  const pager =
    pages > 1
      ? `<nav class="pager" aria-label="${esc(caption)}: pages">${button(1, '«', 'First page', page === 1)}${button(page - 1, '‹', 'Previous page', page === 1)}<span class="page-of">Page ${fmtInt(page)} of ${fmtInt(pages)}</span>${button(page + 1, '›', 'Next page', page === pages)}${button(pages, '»', 'Last page', page === pages)}</nav>`
      : '';
  return `<div class="table-meta"><span class="count" data-count="${sorted.length}">${range}</span>${pager}</div>
<div class="table-wrap"><table id="${esc(id)}" class="data"><caption class="visually-hidden">${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/**
 * Sorting and paging clicks inside `container`: `update(changes)` gets the
 * parameters to change (`{sort, page}` with the table's prefix).
 */
export function bindTables(container, update) {
  container.addEventListener('click', (event) => {
    const sort = event.target.closest('button[data-sort]');
    if (sort) {
      const prefix = sort.dataset.prefix || '';
      update({ [`${prefix}sort`]: sort.dataset.sort, [`${prefix}page`]: '' });
      return;
    }
    const page = event.target.closest('button[data-page]');
    if (page) {
      const prefix = page.dataset.prefix || '';
      update({ [`${prefix}page`]: page.dataset.page === '1' ? '' : page.dataset.page });
    }
  });
}

/**
 * Replaces `element`'s HTML, keeping keyboard focus on the control that had
 * it (matched by `data-fk`) and the scroll position of wide tables.
 */
export function setHtml(element, html) {
  const active = document.activeElement;
  const focusKey = active && element.contains(active) ? active.dataset.fk : null;
  const wrap = element.querySelector('.table-wrap');
  const scrollLeft = wrap ? wrap.scrollLeft : 0;
  element.innerHTML = html;
  if (scrollLeft) {
    const again = element.querySelector('.table-wrap');
    if (again) again.scrollLeft = scrollLeft;
  }
  if (focusKey) {
    const target = element.querySelector(`[data-fk="${CSS.escape(focusKey)}"]`);
    if (target && !target.disabled) target.focus();
    else {
      const fallback = element.querySelector('button[data-page]:not([disabled]), button[data-sort]');
      if (fallback) fallback.focus();
    }
  }
}

/**
 * The HTML of labelled filter controls. `fields`: `[{name, label, type:
 * 'search'|'select', options: [[value, text]], placeholder}]`.
 */
export function filtersHtml(fields, params, formLabel) {
  const controls = fields
    .map((f) => {
      const id = `filter-${f.name}`;
      const value = params.get(f.name) || '';
      if (f.type === 'select') {
        const known = f.options.some(([v]) => v === value);
        const all = known ? f.options : [...f.options, [value, value]];
        const options = all.map(([v, text]) => `<option value="${esc(v)}"${v === value ? ' selected' : ''}>${esc(text)}</option>`).join('');
        return `<div class="field"><label for="${id}">${esc(f.label)}</label><select id="${id}" name="${esc(f.name)}">${options}</select></div>`;
      }
      const list = f.list ? ` list="${id}-list"` : '';
      const datalist = f.list ? `<datalist id="${id}-list">${f.list.map((v) => `<option value="${esc(v)}"></option>`).join('')}</datalist>` : '';
      return `<div class="field"><label for="${id}">${esc(f.label)}</label><input id="${id}" name="${esc(f.name)}" type="search" value="${esc(value)}" placeholder="${esc(f.placeholder || '')}" autocomplete="off" spellcheck="false"${list}>${datalist}</div>`;
    })
    .join('');
  return `<form class="filters" role="search" aria-label="${esc(formLabel)}">${controls}<div class="field field-button"><button type="reset" class="secondary">Clear filters</button></div></form>`;
}

/**
 * Calls `update(changes)` as the operator changes a filter (text after a
 * short pause) or clears them all.
 */
export function bindFilters(container, fields, update, pageParam = 'page') {
  const form = container.querySelector('form.filters');
  if (!form) return;
  const later = debounce((name, value) => update({ [name]: value, [pageParam]: '' }), 150);
  form.addEventListener('input', (event) => {
    const t = event.target;
    if (t.tagName === 'INPUT') later(t.name, t.value.trim());
  });
  form.addEventListener('change', (event) => {
    const t = event.target;
    if (t.tagName === 'SELECT') update({ [t.name]: t.value, [pageParam]: '' });
  });
  form.addEventListener('reset', (event) => {
    event.preventDefault();
    const changes = { [pageParam]: '' };
    for (const f of fields) changes[f.name] = '';
    for (const el of form.elements) if (el.name) el.value = '';
    update(changes);
  });
  form.addEventListener('submit', (event) => event.preventDefault());
}

/** Sets the controls to `params` (after the hash changed underneath them). */
export function syncFilters(container, params) {
  const form = container.querySelector('form.filters');
  if (!form) return;
  for (const el of form.elements) {
    if (!el.name || el === document.activeElement) continue;
    const value = params.get(el.name) || '';
    if (el.value !== value) el.value = value;
  }
}

/** Brings the choices of select filters whose options come from the data
 * (frameworks, roles) up to date, keeping what is selected. */
export function updateOptions(container, fields, params) {
  for (const f of fields) {
    if (f.type !== 'select') continue;
    const select = container.querySelector(`select[name="${CSS.escape(f.name)}"]`);
    if (!select || select === document.activeElement) continue;
    const value = params.get(f.name) || '';
    const known = f.options.some(([v]) => v === value);
    const all = known ? f.options : [...f.options, [value, value]];
    const signature = JSON.stringify(all);
    if (select.dataset.signature === signature) continue;
    select.innerHTML = all.map(([v, text]) => `<option value="${esc(v)}">${esc(text)}</option>`).join('');
    select.value = value;
    select.dataset.signature = signature;
  }
}
