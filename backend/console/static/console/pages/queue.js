// The review queue (GET /api/v1/transcripts): most flagged first, then oldest; filters by status, person and
// collector kept in the address (so a link shows the same list); who holds each claim, until when.

import {api, query} from '../api.js';
import {clock, dateTime, h, replace, timeOfDay, userName} from '../dom.js';
import {startPage} from '../layout.js';

const STATUS = {machine: '机器转写', in_review: '校对中', reviewed: '已校对待审定', approved: '已审定'};
const PER_PAGE = 20;
const form = document.getElementById('filters');
const personInput = document.getElementById('f-person');
const personOptions = document.getElementById('person-options');
const collectorSelect = document.getElementById('f-collector');
const known = {persons: new Map(), collectors: new Map()};

function params() {
  const search = new URLSearchParams(location.search);
  return {
    status: search.get('status') || '', flagged: search.get('flagged') === 'true' ? 'true' : '',
    person: search.get('person') || '', collector: search.get('collector') || '',
    page: Math.max(1, Number(search.get('page')) || 1),
  };
}

function go(next) {
  history.replaceState(null, '', `${location.pathname}${query(next)}`);
  return load();
}

function personLabel(person) {
  return `${person.name}（#${person.id}）`;
}

let personSearch = null;
personInput.addEventListener('input', () => {
  clearTimeout(personSearch);
  const text = personInput.value.trim();
  if (!text || /（#\d+）$/.test(text)) return;
  personSearch = setTimeout(async () => {
    const {data} = await api.get(`/api/v1/persons${query({q: text, per_page: 10})}`);
    replace(personOptions, data.items.map((person) => {
      known.persons.set(String(person.id), person);
      return h('option', {value: personLabel(person)});
    }));
  }, 250);
});

function personId() {
  const text = personInput.value.trim();
  const match = /（#(\d+)）$/.exec(text);
  return match ? match[1] : '';
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  go({status: form.status.value, flagged: form.flagged.checked ? 'true' : '', person: personId(),
    collector: collectorSelect.value, page: 1});
});
for (const control of [form.status, form.flagged, collectorSelect]) {
  control.addEventListener('change', () => form.requestSubmit());
}
personInput.addEventListener('change', () => {
  if (personId() || !personInput.value.trim()) form.requestSubmit();
});
document.getElementById('f-clear').addEventListener('click', () => {
  form.reset();
  personInput.value = '';
  go({page: 1});
});

function collectorOptions(selected) {
  const options = [h('option', {value: '', text: '全部'})];
  for (const [id, user] of known.collectors) {
    options.push(h('option', {value: id, text: userName(user), selected: id === selected}));
  }
  if (selected && !known.collectors.has(selected)) {
    options.push(h('option', {value: selected, text: `用户 #${selected}`, selected: true}));
  }
  replace(collectorSelect, options);
}

function row(item) {
  const lock = item.lock;
  return h('tr', {},
    h('td', {}, h('a', {href: `/console/transcripts/${item.id}`, text: item.material_title || `转写稿 ${item.id}`})),
    h('td', {}, h('span', {class: `badge status-${item.status}`, text: STATUS[item.status] || item.status})),
    h('td', {}, item.flagged_count ? h('span', {class: 'badge flag', text: String(item.flagged_count)}) : '0'),
    h('td', {text: String(item.segment_count)}),
    h('td', {text: clock(item.duration)}),
    h('td', {text: item.collector ? userName(item.collector) : ''}),
    h('td', {}, lock ? `${userName(lock.holder)}（至 ${timeOfDay(lock.expires_at)}）` : h('span', {class: 'muted', text: '无人认领'})),
    h('td', {text: dateTime(item.created_at)}));
}

async function load() {
  const current = params();
  form.status.value = current.status;
  form.flagged.checked = current.flagged === 'true';
  if (current.person && !personId()) {
    const person = known.persons.get(current.person);
    personInput.value = person ? personLabel(person) : `（#${current.person}）`;
  }
  const rows = document.getElementById('queue-rows');
  rows.parentElement.setAttribute('aria-busy', 'true');
  const {data} = await api.get(`/api/v1/transcripts${query({...current, per_page: PER_PAGE})}`);
  for (const item of data.items) {
    if (item.collector) known.collectors.set(String(item.collector.id), item.collector);
  }
  collectorOptions(current.collector);
  replace(rows, data.items.length ? data.items.map(row)
    : h('tr', {}, h('td', {colspan: '8', class: 'muted', text: '没有符合条件的转写稿'})));
  rows.parentElement.removeAttribute('aria-busy');
  const pages = Math.max(1, Math.ceil(data.total / PER_PAGE));
  document.getElementById('queue-summary').textContent = `共 ${data.total} 份转写稿，待核段落最多的在前`;
  document.getElementById('page-info').textContent = `第 ${data.page} / ${pages} 页`;
  const prev = document.getElementById('prev-page');
  const next = document.getElementById('next-page');
  prev.disabled = data.page <= 1;
  next.disabled = data.page >= pages;
  prev.onclick = () => go({...current, page: data.page - 1});
  next.onclick = () => go({...current, page: data.page + 1});
}

startPage().then(load);
