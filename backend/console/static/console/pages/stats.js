// Programme statistics from GET /api/v1/stats as SVG charts drawn by charts.js: hours collected, transcribed,
// reviewed and approved per month, and persons by category and by district — each with its numbers as a table.

import {ApiError, api} from '../api.js';
import {dateTime, h, replace} from '../dom.js';
import {groupedColumns, horizontalBars} from '../charts.js';
import {CATEGORY, label} from '../desk.js';
import {startPage} from '../layout.js';

const HOURS = [['collected', '采集'], ['transcribed', '转写'], ['reviewed', '校对'], ['approved', '审定']];

function hours(value) {
  return `${Number(value || 0).toFixed(1)} 小时`;
}

function table(caption, headings, rows) {
  return h('table', {class: 'table compact'}, h('caption', {class: 'visually-hidden', text: caption}),
    h('thead', {}, h('tr', {}, headings.map((text, index) => h('th', {scope: 'col', text,
      class: index ? 'number' : null})))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((text, index) => index === 0
      ? h('th', {scope: 'row', text}) : h('td', {class: 'number', text}))))));
}

function showTotals(stats) {
  const persons = stats.persons || {};
  const entries = [
    ['人物档案', `${persons.total || 0} 份`],
    ['已发布', `${(persons.by_status || {}).published || 0} 份`],
    ...HOURS.map(([key, name]) => [`${name}时长`, hours((stats.hours || {})[key])]),
    ['资料', `${(stats.materials || {}).total || 0} 件`],
  ];
  replace(document.getElementById('totals'),
    entries.map(([term, value]) => h('div', {class: 'total'}, h('dt', {text: term}), h('dd', {text: value}))));
}

function showMonthly(stats) {
  const rows = stats.hours_by_month || [];
  const months = rows.map((row) => row.month);
  const series = HOURS.map(([key, name]) => ({label: name, values: rows.map((row) => Number(row[key]) || 0)}));
  const sum = (key) => rows.reduce((total, row) => total + (Number(row[key]) || 0), 0);
  const {svg, legend} = groupedColumns({
    categories: months, series, unit: ' 小时', minimum: 1,
    title: '每月时长（小时）',
    description: `${months[0] || ''} 至 ${months[months.length - 1] || ''}，共采集 ${sum('collected').toFixed(1)} 小时，`
      + `转写 ${sum('transcribed').toFixed(1)} 小时，校对 ${sum('reviewed').toFixed(1)} 小时，`
      + `审定 ${sum('approved').toFixed(1)} 小时`,
    shortLabel: (month, index) => (index === 0 || month.endsWith('-01') ? month : `${Number(month.slice(5))}月`),
  });
  replace(document.getElementById('chart-monthly'), svg, legend);
  replace(document.getElementById('table-monthly'), table('每月时长（小时）', ['月份', ...HOURS.map(([, name]) => name)],
    rows.map((row) => [row.month, ...HOURS.map(([key]) => Number(row[key] || 0).toFixed(2))])));
}

function showPersons(stats) {
  const persons = stats.persons || {};
  const byCategory = Object.keys(CATEGORY).map((code, index) => ({
    label: label(CATEGORY, code), value: (persons.by_category || {})[code] || 0, series: index}));
  replace(document.getElementById('chart-category'), horizontalBars({
    items: byCategory, unit: ' 份', title: '人物档案：按类别',
    description: byCategory.map((item) => `${item.label} ${item.value} 份`).join('，'),
  }));
  replace(document.getElementById('table-category'),
    table('人物档案：按类别', ['类别', '档案数'], byCategory.map((item) => [item.label, String(item.value)])));

  const byArea = (persons.by_area || []).map((row) => ({label: row.district || '未填区县', value: row.count}));
  replace(document.getElementById('chart-area'), horizontalBars({
    items: byArea, unit: ' 份', title: '人物档案：按区县',
    description: byArea.length ? byArea.map((item) => `${item.label} ${item.value} 份`).join('，') : '暂无数据',
  }));
  replace(document.getElementById('table-area'),
    table('人物档案：按区县', ['区县', '档案数'], byArea.map((item) => [item.label, String(item.value)])));
}

async function load(months) {
  const generated = document.getElementById('stats-generated');
  generated.textContent = '正在读取…';
  try {
    const {data} = await api.get(`/api/v1/stats?months=${encodeURIComponent(months)}`);
    showTotals(data);
    showMonthly(data);
    showPersons(data);
    generated.textContent = `统计时间：${dateTime(data.generated_at)}（按北京时间分月）`;
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    generated.textContent = failure.status === 403
      ? '统计数据只向档案员和管理员开放。' : `未能读取统计：${failure.message}`;
  }
}

async function main() {
  await startPage();
  const select = document.getElementById('stats-months');
  select.addEventListener('change', () => load(select.value));
  await load(select.value);
}

main();
