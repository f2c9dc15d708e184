// The persons list: GET /api/v1/persons with the API's own filters (category, status, area, tag), search (`q`:
// name, alias, full pinyin or initials), sort and paging. The filters live in the page's address, so a filtered
// list can be bookmarked, sent and gone back to.

import {ApiError, api, query} from '../api.js';
import {$, dateTime, h, replace} from '../dom.js';
import {CATEGORY, SORT, STATUS, areaText, fillSelect, label, statusBadge} from '../desk.js';
import {startPage} from '../layout.js';

const FILTERS = ['q', 'category', 'status', 'area', 'tag', 'sort'];
const DEFAULT_SORT = '-updated';
const PER_PAGE = 20;

const form = document.getElementById('filters');
const body = document.getElementById('persons-body');
const table = document.getElementById('persons-table');
const summary = document.getElementById('result-summary');
const prev = document.getElementById('page-prev');
const next = document.getElementById('page-next');
const pageInfo = document.getElementById('page-info');

let pending = null;
let searchTimer = null;

function stateFromAddress() {
  const params = new URLSearchParams(location.search);
  const state = {};
  for (const key of FILTERS) state[key] = params.get(key) || '';
  state.sort = state.sort in SORT ? state.sort : DEFAULT_SORT;
  state.page = Math.max(1, Number.parseInt(params.get('page') || '1', 10) || 1);
  state.per_page = Math.min(100, Math.max(1, Number.parseInt(params.get('per_page') || '', 10) || PER_PAGE));
  return state;
}

function stateFromForm(page = 1) {
  const state = {...stateFromAddress(), page};
  for (const key of FILTERS) state[key] = form.elements[key].value.trim();
  return state;
}

function showInForm(state) {
  for (const key of FILTERS) form.elements[key].value = state[key];
}

function addressOf(state) {
  return `${location.pathname}${query({
    ...Object.fromEntries(FILTERS.map((key) => [key, state[key]])),
    sort: state.sort === DEFAULT_SORT ? '' : state.sort,
    page: state.page > 1 ? state.page : '',
    per_page: state.per_page !== PER_PAGE ? state.per_page : '',
  })}`;
}

function row(person) {
  const aliases = (person.aliases || []).join('、');
  return h('tr', {},
    h('td', {},
      h('a', {href: `/console/persons/${person.id}`, class: 'person-link', text: person.name}),
      aliases ? h('span', {class: 'muted small block', text: `又名 ${aliases}`}) : null,
      h('span', {class: 'muted small block', text: person.name_pinyin || ''})),
    h('td', {text: label(CATEGORY, person.category)}),
    h('td', {}, statusBadge(person.status)),
    h('td', {text: areaText(person.area) || '—'}),
    h('td', {}, (person.tags || []).map((tag) => h('span', {class: 'tag', text: tag}))),
    h('td', {class: 'nowrap', text: dateTime(person.updated_at)}));
}

async function load(state) {
  if (pending) pending.abort();
  const controller = new AbortController();
  pending = controller;
  table.setAttribute('aria-busy', 'true');
  try {
    const {data} = await api.get(`/api/v1/persons${query({
      q: state.q, category: state.category, status: state.status, area: state.area, tag: state.tag,
      sort: state.sort, page: state.page, per_page: state.per_page,
    })}`, {signal: controller.signal});
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    if (!data.items.length) {
      replace(body, h('tr', {}, h('td', {colspan: 6, class: 'muted', text: data.total
        ? '这一页没有档案了，请回到前一页。' : '没有符合条件的人物档案。'})));
    } else {
      replace(body, data.items.map(row));
    }
    summary.textContent = `共 ${data.total} 份档案`;
    pageInfo.textContent = `第 ${data.page} / ${pages} 页`;
    prev.disabled = data.page <= 1;
    next.disabled = data.page >= pages;
    prev.onclick = () => go({...state, page: data.page - 1});
    next.onclick = () => go({...state, page: data.page + 1});
  } catch (failure) {
    if (failure && failure.name === 'AbortError') return;
    if (!(failure instanceof ApiError)) throw failure;
    summary.textContent = `未能读取人物档案：${failure.message}`;
  } finally {
    if (pending === controller) {
      pending = null;
      table.removeAttribute('aria-busy');
    }
  }
}

function go(state, {replaceEntry = false} = {}) {
  const address = addressOf(state);
  if (address !== location.pathname + location.search) {
    history[replaceEntry ? 'replaceState' : 'pushState'](null, '', address);
  }
  return load(state);
}

async function main() {
  fillSelect(form.elements.category, CATEGORY, {empty: '全部类别'});
  fillSelect(form.elements.status, STATUS, {empty: '全部状态'});
  fillSelect(form.elements.sort, SORT, {value: DEFAULT_SORT});
  await startPage();
  const state = stateFromAddress();
  showInForm(state);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    go(stateFromForm());
  });
  for (const key of ['category', 'status', 'sort']) {
    form.elements[key].addEventListener('change', () => go(stateFromForm()));
  }
  // Searching as one types: a short pause after the last key, and the address is replaced, not stacked.
  form.elements.q.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => go(stateFromForm(), {replaceEntry: true}), 300);
  });
  $('#filter-clear').addEventListener('click', () => {
    form.reset();
    form.elements.sort.value = DEFAULT_SORT;
    go(stateFromForm());
  });
  window.addEventListener('popstate', () => {
    const current = stateFromAddress();
    showInForm(current);
    load(current);
  });
  await load(state);
}

main();
