// The profile's edit form: every editable field, saved as a PATCH of the fields changed with If-Match of the
// version the edit started from. What is typed is kept in sessionStorage as it is typed (drafts.js), so a reload,
// a lost connection or a trip to the login page loses nothing; it is dropped only when the server has accepted it.
// On 412 the form stays as typed: fields only the other person changed take their value, fields both changed are
// shown side by side, and the user chooses to keep theirs (saved over the new version) or to take the other one.

import {ApiError, api, etagFor} from './api.js';
import {clearDraft, loadDraft, saveDraft} from './drafts.js';
import {h, notify, replace} from './dom.js';
import {CATEGORY, FIELD, GENDER, fillSelect} from './desk.js';

const TEXT_FIELDS = ['name', 'ethnicity', 'birth_date', 'death_date', 'native_place', 'occupation', 'biography'];
const PERSONAL = ['id_number', 'phone', 'address'];
const NULLABLE = ['gender', 'ethnicity', 'birth_date', 'death_date', 'native_place', 'occupation', ...PERSONAL];
export const FIELDS = ['category', 'name', 'aliases', 'gender', 'ethnicity', 'birth_date', 'death_date', 'native_place',
  'area', 'occupation', 'honours', 'biography', 'tags', ...PERSONAL];
// The input a checklist item or an error about a field leads to.
export const INPUT_OF = {area: 'edit-area-district', honours: 'edit-honours-add'};

const LIST_SEPARATORS = /[,，、;；\n]+/;

function splitList(text) {
  return [...new Set(String(text || '').split(LIST_SEPARATORS).map((item) => item.trim()).filter(Boolean))];
}

/** The profile's fields as the form holds them: text for text, lists for lists ('' for nothing). A masked
 * personal field is held as '' (the form asks for a new value rather than showing the masked one). */
export function valuesOf(person) {
  const text = (value) => (value === null || value === undefined ? '' : String(value));
  const values = {
    category: person.category,
    aliases: [...(person.aliases || [])],
    gender: text(person.gender),
    area: {district: text(person.area && person.area.district), town: text(person.area && person.area.town),
      village: text(person.area && person.area.village)},
    honours: (person.honours || []).map((honour) => ({title: text(honour.title), year: text(honour.year),
      conferred_by: text(honour.conferred_by)})),
    tags: [...(person.tags || [])].sort(),
  };
  for (const field of TEXT_FIELDS) values[field] = text(person[field]);
  for (const field of PERSONAL) values[field] = person.personal_data_masked ? '' : text(person[field]);
  return values;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

export function changedFields(base, values) {
  return FIELDS.filter((field) => !same(base[field], values[field]));
}

/** The PATCH body for `fields` of `values`: empty becomes null where the API takes null. */
function payloadOf(fields, values) {
  const body = {};
  for (const field of fields) {
    let value = values[field];
    if (field === 'area') {
      value = Object.fromEntries(Object.entries(value).map(([key, part]) => [key, part.trim() || null]));
    } else if (field === 'honours') {
      value = value.filter((honour) => honour.title.trim() || honour.year.trim() || honour.conferred_by.trim())
        .map((honour) => ({title: honour.title.trim(), year: honour.year.trim() ? Number(honour.year) : null,
          conferred_by: honour.conferred_by.trim() || null}));
    } else if (NULLABLE.includes(field)) {
      value = value.trim() ? value : null;
    }
    body[field] = value;
  }
  return body;
}

function showValue(field, value) {
  if (field === 'category') return CATEGORY[value] || value;
  if (field === 'gender') return GENDER[value] || value || '（空）';
  if (field === 'area') return [value.district, value.town, value.village].filter(Boolean).join(' ') || '（空）';
  if (field === 'honours') {
    return value.map((honour) => [honour.title, honour.year, honour.conferred_by].filter(Boolean).join('，'))
      .join('；') || '（空）';
  }
  if (Array.isArray(value)) return value.join('、') || '（空）';
  return value || '（空）';
}

export class PersonEditor {
  /** `form`: the empty <form>; `onSaved(person, etag)` after the server accepted a save; `onClose()`. */
  constructor(form, {onSaved, onClose}) {
    this.form = form;
    this.onSaved = onSaved;
    this.onClose = onClose;
    this.person = null;
    this.open = false;
    this.saving = false;
    form.addEventListener('input', () => this.keep());
    form.addEventListener('change', () => this.keep());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
  }

  get key() {
    return `person.${this.person.id}`;
  }

  /** A draft left by an earlier visit (reload, login), if it still holds changes. */
  storedDraft(person) {
    const draft = loadDraft(`person.${person.id}`);
    return draft && draft.values && draft.base && changedFields(draft.base, draft.values).length ? draft : null;
  }

  start(person, draft = null) {
    this.person = person;
    this.base = draft ? draft.base : valuesOf(person);
    this.baseVersion = draft ? draft.baseVersion : person.version;
    this.render(draft ? draft.values : this.base);
    this.form.hidden = false;
    this.open = true;
  }

  /** The newest profile, when the page reloads it while the form is closed (or to show beside a conflict). */
  update(person) {
    this.person = person;
  }

  dirty() {
    return this.open && changedFields(this.base, this.read()).length > 0;
  }

  close() {
    clearDraft(this.key);
    this.form.hidden = true;
    this.form.replaceChildren();
    this.open = false;
    this.onClose();
  }

  focus(field) {
    const input = document.getElementById(INPUT_OF[field] || `edit-${field}`);
    if (input) input.focus();
    return input;
  }

  keep() {
    if (!this.open) return;
    const values = this.read();
    if (!changedFields(this.base, values).length) {
      clearDraft(this.key);
      return;
    }
    if (!saveDraft(this.key, {baseVersion: this.baseVersion, base: this.base, values})) {
      this.status('浏览器无法暂存修改（存储空间已满或被禁用）：请尽快保存。', 'error');
    }
  }

  // --- the form ------------------------------------------------------------------------------------------------

  input(field, labelText, {type = 'text', value = '', maxlength, hint, placeholder, multiline = false} = {}) {
    const id = `edit-${field}`;
    const control = multiline
      ? h('textarea', {id, name: field, rows: 8, maxlength})
      : h('input', {id, name: field, type, maxlength, placeholder, autocomplete: 'off'});
    control.value = value;
    const hintId = hint ? `${id}-hint` : null;
    if (hintId) control.setAttribute('aria-describedby', hintId);
    return h('div', {class: `field field-${field}`},
      h('label', {for: id, text: labelText}), control,
      hint ? h('span', {class: 'muted small', id: hintId, text: hint}) : null,
      h('span', {class: 'field-error', id: `${id}-error`, role: 'alert'}));
  }

  select(field, labelText, names, value, empty) {
    const id = `edit-${field}`;
    const control = h('select', {id, name: field});
    fillSelect(control, names, {empty, value});
    return h('div', {class: 'field'}, h('label', {for: id, text: labelText}), control,
      h('span', {class: 'field-error', id: `${id}-error`, role: 'alert'}));
  }

  honourRow(honour, index) {
    const number = index + 1;
    const part = (key, text, attributes = {}) => {
      const control = h('input', {type: 'text', 'aria-label': `荣誉 ${number} ${text}`, dataset: {honour: key},
        placeholder: text, ...attributes});
      control.value = honour[key];
      return control;
    };
    return h('li', {class: 'honour'},
      part('title', '名称', {maxlength: 255, class: 'grow'}),
      part('year', '年份', {maxlength: 4, inputmode: 'numeric', class: 'year'}),
      part('conferred_by', '授予单位', {maxlength: 255, class: 'grow'}),
      h('button', {type: 'button', class: 'button small', text: '删除', 'aria-label': `删除荣誉 ${number}`,
        onclick: () => {
          const values = this.read();
          values.honours.splice(index, 1);
          this.render(values);
          this.keep();
        }}));
  }

  render(values) {
    const person = this.person;
    const masked = person.personal_data_masked;
    const personal = (field, labelText) => this.input(field, labelText, {
      value: values[field], maxlength: field === 'address' ? 255 : 32,
      placeholder: masked && person[field] ? `当前：${person[field]}` : '',
      hint: masked ? '您看到的是隐去部分的号码；如需更正，请输入完整的新值，留空则不修改。' : null,
    });
    const approving = person.status === 'approved' || person.status === 'published';
    replace(this.form,
      h('div', {class: 'conflict', id: 'edit-conflict', role: 'alert', hidden: true}),
      approving ? h('p', {class: 'notice small', text: person.status === 'published'
        ? '此档案已发布：保存即视为审核通过，并随即公开（须满足发布检查）。'
        : '此档案已审核：您的修改保存后即视为审核通过。'}) : null,
      h('div', {class: 'form-grid'},
        this.select('category', '类别', CATEGORY, values.category, null),
        this.input('name', '姓名', {value: values.name, maxlength: 128}),
        this.input('aliases', '别名', {value: values.aliases.join('，'), hint: '字号、尊称等，用逗号分隔'}),
        this.select('gender', '性别', GENDER, values.gender, '（未填）'),
        this.input('ethnicity', '民族', {value: values.ethnicity, maxlength: 32}),
        this.input('birth_date', '出生日期', {value: values.birth_date, maxlength: 10,
          placeholder: '1938 或 1938-05 或 1938-05-12'}),
        this.input('death_date', '去世日期', {value: values.death_date, maxlength: 10, placeholder: '可留空'}),
        this.input('native_place', '籍贯', {value: values.native_place, maxlength: 255}),
        this.input('area-district', '所在区县', {value: values.area.district, maxlength: 64}),
        this.input('area-town', '镇/街道', {value: values.area.town, maxlength: 64}),
        this.input('area-village', '村/社区', {value: values.area.village, maxlength: 64}),
        this.input('occupation', '职业或领域', {value: values.occupation, maxlength: 255}),
        this.input('tags', '标签', {value: values.tags.join('，'), hint: '用逗号分隔'}),
        personal('id_number', '身份证号'),
        personal('phone', '电话'),
        personal('address', '住址')),
      h('fieldset', {class: 'honours'}, h('legend', {text: '荣誉'}),
        h('ul', {class: 'honour-list'}, values.honours.map((honour, index) => this.honourRow(honour, index))),
        h('button', {type: 'button', class: 'button small', id: 'edit-honours-add', text: '添加荣誉', onclick: () => {
          const current = this.read();
          current.honours.push({title: '', year: '', conferred_by: ''});
          this.render(current);
          const inputs = this.form.querySelectorAll('[data-honour="title"]');
          inputs[inputs.length - 1].focus();
        }})),
      this.input('biography', '事迹/生平', {value: values.biography, multiline: true, maxlength: 200000}),
      h('p', {class: 'form-status', id: 'edit-status', role: 'status'}),
      h('div', {class: 'form-buttons'},
        h('button', {type: 'submit', class: 'button primary', text: '保存'}),
        h('button', {type: 'button', class: 'button', text: '取消', onclick: () => this.cancel()})));
  }

  read() {
    const value = (name) => {
      const control = this.form.elements[name];
      return control ? control.value : '';
    };
    const honours = [...this.form.querySelectorAll('.honour')].map((row) => ({
      title: row.querySelector('[data-honour="title"]').value,
      year: row.querySelector('[data-honour="year"]').value,
      conferred_by: row.querySelector('[data-honour="conferred_by"]').value,
    }));
    const values = {
      category: value('category'),
      aliases: splitList(value('aliases')),
      gender: value('gender'),
      area: {district: value('area-district'), town: value('area-town'), village: value('area-village')},
      honours,
      tags: splitList(value('tags')).sort(),
    };
    for (const field of [...TEXT_FIELDS, ...PERSONAL]) values[field] = value(field);
    return values;
  }

  status(message, kind = 'info') {
    const line = document.getElementById('edit-status');
    if (line) {
      line.textContent = message;
      line.className = `form-status ${kind}`;
    }
  }

  showFieldErrors(fields) {
    for (const element of this.form.querySelectorAll('.field-error')) element.textContent = '';
    let first = null;
    for (const [field, messages] of Object.entries(fields || {})) {
      const id = field === 'area' ? 'edit-area-district' : `edit-${field}`;
      const error = document.getElementById(`${id}-error`);
      const text = Array.isArray(messages) ? messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m)))
        .join('；') : typeof messages === 'string' ? messages : '此项有误';
      if (error) error.textContent = text;
      first = first || document.getElementById(id);
    }
    if (first) first.focus();
  }

  async cancel() {
    if (this.dirty() && !window.confirm('放弃尚未保存的修改？')) return;
    this.close();
  }

  // --- saving --------------------------------------------------------------------------------------------------

  async save() {
    if (this.saving) return;
    const values = this.read();
    const fields = changedFields(this.base, values);
    if (!fields.length) {
      notify('没有需要保存的修改', 'info');
      this.close();
      return;
    }
    this.saving = true;
    this.status('正在保存…');
    try {
      const {data, etag} = await api.patch(`/api/v1/persons/${this.person.id}`, payloadOf(fields, values),
        {ifMatch: etagFor(this.baseVersion)});
      this.person = data;
      clearDraft(this.key);
      this.form.hidden = true;
      this.form.replaceChildren();
      this.open = false;
      notify('已保存', 'success');
      this.onSaved(data, etag);
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      this.keep();
      if (failure.status === 412) {
        await this.conflict(values);
      } else {
        this.status(`${failure.message}。您填写的内容仍在表单中。`, 'error');
        if (failure.details && failure.details.fields) this.showFieldErrors(failure.details.fields);
        notify(failure.message, 'error');
      }
    } finally {
      this.saving = false;
    }
  }

  /** Someone saved a newer version while this form was open: merge what can be merged, show the rest. */
  async conflict(mine) {
    let current;
    try {
      current = (await api.get(`/api/v1/persons/${this.person.id}`)).data;
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      this.status(`档案已被他人修改，但最新版本未能读取：${failure.message}。您填写的内容仍在表单中。`, 'error');
      return;
    }
    const theirs = valuesOf(current);
    const merged = {...mine};
    const clashes = [];
    const taken = [];
    for (const field of FIELDS) {
      const iChanged = !same(mine[field], this.base[field]);
      const theyChanged = !same(theirs[field], this.base[field]);
      if (theyChanged && !iChanged) {
        merged[field] = theirs[field];
        taken.push(field);
      } else if (theyChanged && iChanged && !same(theirs[field], mine[field])) {
        clashes.push(field);
      }
    }
    this.person = current;
    this.base = theirs;
    this.baseVersion = current.version;
    this.render(merged);
    this.keep();
    const box = document.getElementById('edit-conflict');
    box.hidden = false;
    replace(box,
      h('h3', {text: '此档案在您编辑期间已被他人修改'}),
      h('p', {text: `已载入最新的第 ${current.version} 版。您填写的内容都还在表单中，没有丢失。`}),
      taken.length ? h('p', {class: 'small', text: `对方修改了您未改动的项目，已采用对方的内容：${
        taken.map((field) => FIELD[field] || field).join('、')}。`}) : null,
      clashes.length ? h('div', {},
        h('p', {text: '以下项目您和对方都改了，请决定保留哪一份：'}),
        h('dl', {class: 'clashes'}, clashes.flatMap((field) => [
          h('dt', {text: FIELD[field] || field}),
          h('dd', {}, h('span', {class: 'muted small', text: '对方保存的版本：'}),
            h('span', {class: 'their-version', text: showValue(field, theirs[field])}),
            h('span', {class: 'muted small block', text: '您的版本仍在下方表单中。'}))]))) : null,
      h('div', {class: 'form-buttons'},
        h('button', {type: 'button', class: 'button primary', text: '保留我的修改并保存',
          onclick: () => this.save()}),
        h('button', {type: 'button', class: 'button', text: '放弃我的修改，采用对方版本', onclick: () => {
          if (!window.confirm('放弃您在冲突项目上的修改？')) return;
          this.render(theirs);
          clearDraft(this.key);
          notify('已采用对方的版本', 'info');
        }})));
    box.querySelector('button').focus();
  }
}
