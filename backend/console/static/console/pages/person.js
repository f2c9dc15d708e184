// A person's profile: every field as GET /api/v1/persons/{id} gives it to this user (personal data masked or in
// full, as the API decides), the workflow buttons the API's `actions` allow (提交, 通过, 退回 with a required
// comment, 发布, 撤回 — each sent with If-Match), the publication checklist before publishing (each missing item
// leads to where it is fixed), and the sections below: materials, interviews, consents, audit trail, notifications.

import {ApiError, api, can, etagFor} from '../api.js';
import {dateTime, h, notify, replace} from '../dom.js';
import {CATEGORY, FIELD, GENDER, LocalError, areaText, formDialog, label, statusBadge} from '../desk.js';
import {startPage} from '../layout.js';
import {PersonEditor} from '../person_form.js';
import {
  consentForm, materialForm, showAudit, showConsents, showInterviews, showMaterials, showNotifications,
} from '../person_sections.js';

const personId = Number(document.body.dataset.personId);
const url = `/api/v1/persons/${personId}`;
const ACTIONS = ['submit', 'approve', 'return', 'publish', 'withdraw'];
const DONE = {
  submit: '已提交审核', approve: '已审核通过', return: '已退回给采集员', publish: '已发布', withdraw: '已撤回',
};
// Where each checklist item is fixed: a field of the edit form, or a section of the page.
const FIX_IN_SECTION = {material: 'material-upload', consent_public: 'consent-upload'};

const state = {user: null, person: null, interviews: []};
let editor = null;

// --- the fields ---------------------------------------------------------------------------------------------------

function honoursText(honours) {
  return (honours || []).map((honour) => [honour.title, honour.year ? `${honour.year}年` : null,
    honour.conferred_by].filter(Boolean).join('，'));
}

function fieldRows(person) {
  const masked = person.personal_data_masked ? '（部分隐去）' : '';
  const rows = [
    ['category', label(CATEGORY, person.category)],
    ['name', person.name],
    ['aliases', (person.aliases || []).join('、')],
    ['gender', label(GENDER, person.gender)],
    ['ethnicity', person.ethnicity],
    ['birth_date', person.birth_date],
    ['death_date', person.death_date],
    ['native_place', person.native_place],
    ['area', areaText(person.area)],
    ['occupation', person.occupation],
    ['honours', honoursText(person.honours)],
    ['tags', (person.tags || []).join('、')],
    ['id_number', person.id_number ? `${person.id_number}${masked}` : ''],
    ['phone', person.phone ? `${person.phone}${masked}` : ''],
    ['address', person.address ? `${person.address}${masked}` : ''],
    ['biography', person.biography],
  ];
  const times = [['建档时间', person.created_at], ['最近更新', person.updated_at], ['提交时间', person.submitted_at],
    ['审核时间', person.approved_at], ['发布时间', person.published_at], ['撤回时间', person.withdrawn_at]]
    .filter(([, value]) => value);
  return [
    ...rows.map(([field, value]) => h('div', {class: `field-row row-${field}`},
      h('dt', {text: FIELD[field]}),
      Array.isArray(value)
        ? h('dd', {}, value.length ? h('ul', {class: 'plain'}, value.map((text) => h('li', {text}))) : '—')
        : h('dd', {class: field === 'biography' ? 'pre biography' : '', text: value || '—'}))),
    ...times.map(([term, value]) => h('div', {class: 'field-row'}, h('dt', {text: term}),
      h('dd', {text: dateTime(value)}))),
  ];
}

function render(person) {
  state.person = person;
  if (editor) editor.update(person);
  document.title = `${person.name} · 人物档案 · 留芳工作台`;
  document.getElementById('person-name').textContent = person.name;
  replace(document.getElementById('person-meta'),
    h('span', {class: 'badge category', text: label(CATEGORY, person.category)}), ' ', statusBadge(person.status),
    person.name_pinyin ? h('span', {class: 'muted', text: ` ${person.name_pinyin}`}) : null);
  document.getElementById('details-version').textContent = `第 ${person.version} 版`;
  const notice = document.getElementById('return-notice');
  notice.hidden = !(person.status === 'returned' && person.return_comment);
  document.getElementById('return-comment').textContent = person.return_comment || '';
  replace(document.getElementById('fields'), fieldRows(person));
  document.getElementById('fields').hidden = Boolean(editor && editor.open);
  const actions = new Set(person.actions || []);
  document.getElementById('action-edit').hidden = !actions.has('edit') || Boolean(editor && editor.open);
  for (const action of ACTIONS) document.getElementById(`action-${action}`).hidden = !actions.has(action);
  document.getElementById('person-loading').hidden = true;
  document.getElementById('person').hidden = false;
}

// --- the publication checklist -------------------------------------------------------------------------------------

async function showChecklist() {
  const section = document.getElementById('checklist');
  if (!(state.person.actions || []).includes('publish')) {
    section.hidden = true;
    return null;
  }
  section.hidden = false;
  const {data} = await api.get(`${url}/checklist`);
  const items = document.getElementById('checklist-items');
  document.getElementById('checklist-summary').textContent = data.publishable
    ? '发布条件已全部满足，可以发布。' : `发布前还需补充 ${data.missing.length} 项（点击前往补充）：`;
  replace(items, data.publishable
    ? h('li', {class: 'ok', text: '✓ 必填信息、关联资料和有效的公开授权书均已具备'})
    : data.missing.map((item, index) => h('li', {class: 'missing'},
      h('a', {href: `#${FIX_IN_SECTION[item] || `edit-${item}`}`, text: data.labels[index] || item,
        onclick: (event) => {
          event.preventDefault();
          fix(item);
        }}))));
  return data;
}

function fix(item) {
  if (FIX_IN_SECTION[item]) {
    const upload = document.getElementById(FIX_IN_SECTION[item]);
    if (upload.hidden) {
      notify('您无权在此补充这一项，请联系档案员', 'error');
      return;
    }
    upload.open = true;
    if (item === 'consent_public') document.getElementById('consent-scope').value = 'public';
    upload.scrollIntoView({block: 'center'});
    upload.querySelector('input[type="file"]').focus();
    return;
  }
  if (!editor.open) {
    if (!(state.person.actions || []).includes('edit')) {
      notify('您无权修改此档案', 'error');
      return;
    }
    startEditing();
  }
  const input = editor.focus(item);
  if (input) input.scrollIntoView({block: 'center'});
}

// --- reloading ----------------------------------------------------------------------------------------------------

async function reload() {
  const {data} = await api.get(url);
  render(data);
  await Promise.all([showChecklist(), showAudit(data, state.user), showNotifications(data)]);
}

async function reloadAll() {
  await reload();
  await Promise.all([showMaterials(state.person), showConsents(state.person, state.interviews, reloadAll)]);
}

// --- editing -------------------------------------------------------------------------------------------------------

function startEditing(draft = null) {
  editor.start(state.person, draft);
  document.getElementById('fields').hidden = true;
  document.getElementById('action-edit').hidden = true;
}

// --- the workflow --------------------------------------------------------------------------------------------------

function post(action, body) {
  return api.post(`${url}/${action}`, body, {ifMatch: etagFor(state.person.version)});
}

async function confirmAndPost(action) {
  if (action === 'return') {
    const comment = h('textarea', {id: 'return-comment-input', name: 'comment', rows: 5, maxlength: 5000,
      required: true, 'aria-describedby': 'return-comment-hint'});
    return formDialog({
      title: '退回档案', submitLabel: '确认退回',
      body: [h('p', {id: 'return-comment-hint', class: 'muted small',
        text: '退回意见会发给建档的采集员，请写明需要补充或更正的内容。'}),
      h('div', {class: 'field'}, h('label', {for: 'return-comment-input', text: '退回意见（必填）'}), comment)],
      onSubmit: async () => {
        if (!comment.value.trim()) throw new LocalError('请填写退回意见，说明需要修改什么', 'comment');
        return (await post('return', {comment: comment.value})).data;
      },
    });
  }
  if (action === 'publish') {
    const checklist = await showChecklist();
    if (checklist && !checklist.publishable) {
      const section = document.getElementById('checklist');
      section.scrollIntoView({block: 'center'});
      const first = section.querySelector('a');
      if (first) first.focus();
      notify(`发布前还需补充：${checklist.labels.join('、')}`, 'error', {timeout: 10000});
      return null;
    }
    return formDialog({
      title: '发布档案', submitLabel: '确认发布',
      body: [h('p', {text: `发布后，“${state.person.name}”的档案将在公开档案中展示（只含已开放的资料）。`})],
      onSubmit: async () => (await post('publish')).data,
    });
  }
  if (action === 'withdraw') {
    return formDialog({
      title: '撤回档案', submitLabel: '确认撤回', danger: true,
      body: [h('p', {text: '撤回后，此档案不再公开，也不再进入审核流程；档案本身会保留。'})],
      onSubmit: async () => (await post('withdraw')).data,
    });
  }
  return (await post(action)).data;
}

async function act(action, button) {
  if (editor.dirty()) {
    notify('请先保存或取消正在编辑的修改，再执行此操作', 'error');
    editor.focus('name');
    return;
  }
  button.disabled = true;
  try {
    const person = await confirmAndPost(action);
    if (!person) return;
    if (editor.open) editor.close();
    render(person);
    notify(DONE[action], 'success');
    await Promise.all([showChecklist(), showAudit(person, state.user), showNotifications(person)]);
    button.blur();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    if (failure.status === 412) {
      notify('档案已被他人修改，已载入最新版本，请确认后再操作', 'error');
      await reload();
    } else if (failure.code === 'publication_checklist') {
      notify(failure.message, 'error');
      await showChecklist();
    } else {
      notify(failure.message, 'error');
    }
  } finally {
    button.disabled = false;
  }
}

// --- the page ------------------------------------------------------------------------------------------------------

async function main() {
  state.user = await startPage();
  editor = new PersonEditor(document.getElementById('edit-form'), {
    onSaved: async (person) => {
      render(person);
      await Promise.all([showChecklist(), showAudit(person, state.user)]);
      document.getElementById('action-edit').focus();
    },
    onClose: () => {
      document.getElementById('fields').hidden = false;
      document.getElementById('action-edit').hidden = !(state.person.actions || []).includes('edit');
    },
  });
  let person;
  try {
    person = (await api.get(url)).data;
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    replace(document.getElementById('person-loading'), failure.status === 404
      ? '找不到这份档案：它不存在，或您无权查看。' : `未能读取档案：${failure.message}`);
    return;
  }
  render(person);
  document.getElementById('action-edit').addEventListener('click', () => {
    startEditing();
    editor.focus('name');
  });
  for (const action of ACTIONS) {
    const button = document.getElementById(`action-${action}`);
    button.addEventListener('click', () => act(action, button));
  }
  const draft = editor.storedDraft(person);
  if (draft && (person.actions || []).includes('edit')) {
    startEditing(draft);
    editor.status(draft.baseVersion === person.version
      ? '已恢复您上次未保存的修改。' : '已恢复您上次未保存的修改；档案在此期间有新版本，保存时会提示比较。', 'info');
  }
  const actions = new Set(person.actions || []);
  if (actions.has('edit') && can(state.user, 'material.upload')) materialForm(person, reloadAll);
  const independent = Promise.all([showChecklist(), showMaterials(person), showAudit(person, state.user),
    showNotifications(person)]);
  state.interviews = await showInterviews(person);  // the consents name the interviews they are limited to
  if (actions.has('record_consent')) consentForm(() => state.person, state.interviews, reloadAll);
  await Promise.all([independent, showConsents(person, state.interviews, reloadAll)]);
}

main();
