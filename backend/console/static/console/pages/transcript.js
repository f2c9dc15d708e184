// The transcript workbench (/console/transcripts/{id}): claims the transcript on open, plays the recording with its
// waveform, shows the segments for editing, and saves with If-Match. Unsaved edits live in sessionStorage until
// the server accepts them; a 412 shows the other edit beside the editor's own. Everything here goes through the
// transcript review API: the rules (claims, states, who may approve) are the server's.

import {ApiError, api, can, etagFor, query} from '../api.js';
import {clock, clockTenths, dateTime, dialog, dialogOpen, h, notify, replace, timeOfDay, userName} from '../dom.js';
import {startPage} from '../layout.js';
import {Drafts, rebase} from '../transcript/model.js';
import {Player, SKIP_SECONDS} from '../transcript/player.js';
import {SegmentList, segmentAt} from '../transcript/view.js';

const STATUS = {machine: '机器转写', in_review: '校对中', reviewed: '已校对待审定', approved: '已审定'};
const REDACTION_REASONS = {privacy: '涉及隐私', third_party: '涉及第三方', sensitive: '敏感内容', other: '其他'};
const RENEW_CLAIM_MS = 5 * 60 * 1000;
const id = Number(document.body.dataset.transcriptId);
const url = (suffix = '') => `/api/v1/transcripts/${id}${suffix}`;
const $ = (selector) => document.querySelector(selector);

const state = {
  user: null,
  transcript: null,
  etag: null,
  material: null,
  claim: null, // {mine, holder, expires_at}
  lockedBy: null,
  current: 0,
  saving: null,
  redactions: [],
  marks: {start: null, end: null},
  persons: new Map(),
};
const drafts = new Drafts(id);
const player = new Player({container: $('#waveform'), nonce: document.body.dataset.styleNonce});
const list = new SegmentList($('#segments'), {
  onInput: (index, input) => edited(index, 'text', input.value),
  onComposition: () => pauseForTyping(),
  onFocus: (index) => focusSegment(index, {seek: false}),
  onPointer: (index) => {
    if (index !== list.active) seekTo(index);
  },
  onSeek: (index) => {
    seekTo(index);
    list.input(index).focus();
  },
  onSpeaker: (index) => chooseSpeaker(index),
  onRestore: (index, position) => restoreRemoved(index, position),
});

// --- who may do what, from the server's answers ----------------------------------------------------------------

const segments = () => (state.transcript ? state.transcript.segments : []);
const mayEdit = () => can(state.user, 'transcript.edit') && state.transcript && state.transcript.status !== 'approved';
const editable = () => Boolean(mayEdit() && state.claim && state.claim.mine);

function textOf(index) {
  const draft = drafts.get(index);
  return draft && 'text' in draft ? draft.text : segments()[index].text;
}

function speakerOf(index) {
  const draft = drafts.get(index);
  return draft && 'speaker' in draft ? draft.speaker : segments()[index].speaker;
}

function speakerName(label) {
  if (!label) return '未标注说话人';
  const target = (state.transcript.speakers || {})[label];
  if (target && target.name) return target.name;
  if (target && target.person_id) {
    const person = state.persons.get(target.person_id);
    return person ? person.name : `人物 #${target.person_id}`;
  }
  return label;
}

function redacted(segment) {
  return state.redactions.some((range) => range.start < segment.end && range.end > segment.start);
}

// --- rendering -------------------------------------------------------------------------------------------------------

function renderSegments() {
  list.render(segments(), {
    text: textOf, speaker: speakerOf, speakerName, editable: editable(), dirty: (i) => drafts.has(i), redacted,
  });
  $('#segments-loading').hidden = true;
  syncActive(false);
}

function renderHead() {
  const transcript = state.transcript;
  $('#wb-title').textContent = (state.material && state.material.title) || `转写稿 ${id}`;
  document.title = `${$('#wb-title').textContent} · 转写稿校对 · 留芳工作台`;
  const status = $('#wb-status');
  status.textContent = STATUS[transcript.status] || transcript.status;
  status.className = `badge status-${transcript.status}`;
  $('#wb-version').textContent = `第 ${transcript.version} 版 · ${transcript.segment_count} 段 · ${clock(transcript.duration)}`;
  renderNotices();
  renderButtons();
  renderSaveState();
}

function renderNotices() {
  const box = $('#wb-notices');
  const notices = [];
  const transcript = state.transcript;
  if (state.lockedBy) {
    notices.push(h('div', {class: 'notice warn', role: 'status'},
      h('span', {text: `此转写稿正由${userName(state.lockedBy.holder)}校对，锁定至 ${timeOfDay(state.lockedBy.expires_at)}。` +
        '为免两人改同一份稿子，您现在只能查看；对方保存并结束后（或锁定到期后）可以重新认领。'}),
      h('button', {type: 'button', class: 'button small', text: '重新认领', onclick: () => claim(true)})));
  } else if (state.claim && state.claim.mine) {
    notices.push(h('div', {class: 'notice info'},
      h('span', {text: `您已认领此转写稿，锁定至 ${timeOfDay(state.claim.expires_at)}（保存或停留在本页会自动续期）。`}),
      h('button', {type: 'button', class: 'button small', text: '结束认领', onclick: () => release()})));
  } else if (transcript.status === 'approved') {
    notices.push(h('div', {class: 'notice info', text: '此转写稿已审定，只能查看；如需修改，请档案员退回。'}));
  } else if (mayEdit()) {
    notices.push(h('div', {class: 'notice info'},
      h('span', {text: transcript.status === 'reviewed' ? '此转写稿已提交审核。' : '此转写稿目前无人认领。'}),
      h('button', {type: 'button', class: 'button small', text: '认领并修改', onclick: () => claim(true)})));
  }
  if (transcript.review_comment) {
    notices.push(h('div', {class: 'notice warn'}, h('strong', {text: '退回意见：'}),
      h('span', {class: 'comment-text', text: transcript.review_comment})));
  }
  replace(box, notices);
}

function setButton(button, enabled, reason) {
  button.disabled = !enabled;
  if (enabled) button.removeAttribute('title');
  else button.title = reason;
}

function renderButtons() {
  const status = state.transcript.status;
  const approver = can(state.user, 'transcript.approve');
  setButton($('#btn-save'), editable(), '认领后才能保存');
  setButton($('#btn-split'), editable(), '认领后才能拆分');
  setButton($('#btn-merge'), editable() && state.current + 1 < segments().length, '认领后才能合并（最后一段不能与下一段合并）');
  setButton($('#btn-redact'), can(state.user, 'transcript.redact'), '您的角色不能标记限制片段');
  setButton($('#btn-review'), editable() && status === 'in_review', '认领校对中的转写稿后才能提交审核');
  setButton($('#btn-approve'), approver && status === 'reviewed', approver ? '只有已提交审核的转写稿可以通过' : '只有档案员可以审定');
  setButton($('#btn-return'), approver && (status === 'reviewed' || status === 'approved'),
    approver ? '只有已提交审核或已审定的转写稿可以退回' : '只有档案员可以退回');
}

function renderSaveState(text) {
  const box = $('#save-state');
  if (text) {
    box.textContent = text;
    return;
  }
  if (!drafts.size) box.textContent = '已全部保存';
  else box.textContent = `${drafts.size} 段未保存${drafts.stored ? '' : '（浏览器未能暂存，请尽快保存）'}`;
}

function renderRedactions() {
  const box = $('#redactions');
  if (!state.redactions.length) {
    replace(box, h('li', {class: 'muted', text: '无'}));
    return;
  }
  replace(box, state.redactions.map((range) => h('li', {},
    h('span', {text: `${clockTenths(range.start)} – ${clockTenths(range.end)} ${REDACTION_REASONS[range.reason] || range.reason}`}),
    range.note ? h('span', {class: 'muted', text: `（${range.note}）`}) : null)));
}

// --- loading, claiming --------------------------------------------------------------------------------------------

function accept(response) {
  state.transcript = response.data;
  state.etag = response.etag || etagFor(response.data.version);
}

async function fetchTranscript() {
  accept(await api.get(url()));
}

async function loadPersons() {
  const ids = Object.values(state.transcript.speakers || {}).map((target) => target.person_id)
    .filter((personId) => personId && !state.persons.has(personId));
  await Promise.all(ids.map(async (personId) => {
    try {
      const {data} = await api.get(`/api/v1/persons/${personId}`);
      state.persons.set(personId, data);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
    }
  }));
}

async function claim(manual = false) {
  try {
    const {data} = await api.post(url('/claim'));
    state.claim = {mine: true, holder: data.lock.holder, expires_at: data.lock.expires_at};
    state.lockedBy = null;
    state.transcript.status = data.status; // a machine transcript is in review once claimed
    if (manual) {
      await fetchTranscript();
      await reconcileDrafts();
      renderSegments();
    }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 423) {
      state.claim = null;
      state.lockedBy = {holder: error.details.holder, expires_at: error.details.expires_at};
    } else if (manual || error.status !== 409) {
      notify(error.message, 'error');
    }
  }
  list.setEditable(editable());
  renderHead();
}

async function release() {
  if (drafts.size && !(await saveDrafts())) return;
  await api.delete(url('/claim'), {as: 'none'});
  state.claim = null;
  list.setEditable(false);
  renderHead();
  notify('已结束认领', 'success');
}

function renewClaim() {
  setInterval(async () => {
    if (!state.claim || !state.claim.mine || document.hidden) return;
    try {
      const {data} = await api.post(url('/claim'));
      state.claim.expires_at = data.lock.expires_at;
      renderNotices();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      lockLost(error);
    }
  }, RENEW_CLAIM_MS);
}

function lockLost(error) {
  state.claim = null;
  if (error.status === 423) state.lockedBy = {holder: error.details.holder, expires_at: error.details.expires_at};
  list.setEditable(false);
  renderHead();
  notify(`${error.message}。您未保存的修改仍保留在本页，重新认领后即可保存。`, 'error');
}

// --- editing -----------------------------------------------------------------------------------------------------

function pauseForTyping() {
  if (player.pause()) renderSaveState();
}

function edited(index, field, value) {
  if (!editable()) return;
  pauseForTyping();
  const before = drafts.size;
  const wasDirty = drafts.has(index);
  drafts.set(index, segments()[index], field, value, {soon: field === 'text'});
  const dirty = drafts.has(index);
  if (dirty !== wasDirty) list.update(index, {dirty});
  if (field === 'text') list.shadeSoon(index);
  if (drafts.size !== before || !drafts.stored) renderSaveState();
}

function focusSegment(index, {seek}) {
  if (index < 0 || index >= segments().length) return;
  state.current = index;
  renderButtons();
  if (seek) seekTo(index);
}

function seekTo(index) {
  const segment = segments()[index];
  if (!segment) return;
  player.seek(segment.start);
  list.setActive(index, {follow: false});
}

function moveFocus(step) {
  const next = Math.min(segments().length - 1, Math.max(0, state.current + step));
  const input = list.input(next);
  if (!input) return;
  input.focus();
  input.setSelectionRange(0, 0);
  list.row(next).scrollIntoView({block: 'nearest'});
  focusSegment(next, {seek: true});
}

function restoreRemoved(index, position) {
  if (!editable()) return;
  const removed = (segments()[index].meta || {}).removed || [];
  const item = removed[position];
  if (!item) return;
  const input = list.input(index);
  input.value = `${input.value}${item.text}`;
  edited(index, 'text', input.value);
  input.focus();
}

/** Keep the server's answer and the editor's unsaved edits: after our own change (the version moved by exactly
 * one) the edits stay as they are; otherwise they are rebased, and conflicts shown. */
async function reconcileDrafts() {
  const saved = drafts.version === null ? drafts.restore() : null;
  if (saved) {
    drafts.version = saved.version;
    drafts.edits = new Map(saved.edits.map(({index, ...edit}) => [index, edit]));
    if (drafts.size) notify(`已恢复您上次未保存的 ${drafts.size} 段修改`, 'info');
  }
  if (drafts.version === null || drafts.version === state.transcript.version || !drafts.size) {
    drafts.moveTo(state.transcript.version);
    return true;
  }
  const result = rebase(drafts.edits, segments());
  drafts.replace(result.edits, state.transcript.version);
  if (!result.conflicts.length && !result.lost.length) return true;
  return resolveConflicts(result.conflicts, result.lost);
}

async function resolveConflicts(conflicts, lost) {
  const rows = [];
  const choices = [];
  for (const conflict of conflicts) {
    const field = h('textarea', {class: 'choice', rows: '3', 'aria-label': `${clock(conflict.start)} 保留的文本`});
    field.value = conflict.mine;
    choices.push({conflict, field});
    rows.push(h('section', {class: 'conflict'},
      h('h3', {text: `${clock(conflict.start)} – ${clock(conflict.end)}`}),
      h('div', {class: 'conflict-sides'},
        h('div', {}, h('p', {class: 'small muted', text: '他人保存的文本'}), h('p', {class: 'theirs', text: conflict.theirs}),
          h('button', {type: 'button', class: 'button small', text: '用他人的', onclick: () => { field.value = conflict.theirs; }})),
        h('div', {}, h('p', {class: 'small muted', text: '我的修改（未保存）'}), h('p', {class: 'mine', text: conflict.mine}),
          h('button', {type: 'button', class: 'button small', text: '用我的', onclick: () => { field.value = conflict.mine; }}))),
      h('label', {class: 'small', text: '保留的文本（可再修改）'}), field));
  }
  for (const item of lost) {
    rows.push(h('section', {class: 'conflict'},
      h('h3', {text: `${clock(item.start)} – ${clock(item.end)}（该段已被他人拆分或合并）`}),
      h('p', {class: 'small muted', text: '我的修改（未保存），请复制到合适的段落：'}),
      h('p', {class: 'mine', text: item.text !== undefined ? item.text : ''})));
  }
  const answer = await dialog({
    title: '他人同时修改了这些段落', className: 'wide',
    body: [h('p', {text: '您的文字没有丢失。请逐段选择保留哪一份（也可以合并后再改），然后保存。'}), ...rows],
    buttons: [{value: 'cancel', label: '稍后处理（保留我的修改）'}, {value: 'apply', label: '按所选保存', primary: true}],
  });
  if (answer !== 'apply') {
    // Keep the editor's text as drafts on the new version: nothing is lost, the next save decides.
    for (const {conflict} of choices) setDraft(conflict.index, conflict.field, conflict.mine);
    return false;
  }
  for (const {conflict, field} of choices) setDraft(conflict.index, conflict.field, field.value);
  return true;
}

function setDraft(index, field, value) {
  const segment = segments()[index];
  if (segment) drafts.set(index, segment, field, value);
}

/** Save every unsaved edit as one revision (PUT segments with If-Match). True once the server has them all. */
async function saveDrafts({quiet = false} = {}) {
  if (state.saving) return state.saving;
  if (!drafts.size) return true;
  state.saving = (async () => {
    renderSaveState('正在保存…');
    for (let round = 0; round < 3; round += 1) {
      try {
        const response = await api.put(url('/segments'), {segments: drafts.payload()}, {ifMatch: state.etag});
        const focused = document.activeElement;
        accept(response);
        drafts.clear(state.transcript.version);
        list.segments = segments();
        for (const segment of segments()) {
          const input = list.input(segment.index);
          list.update(segment.index, {dirty: false, text: input === focused ? undefined : segment.text});
        }
        renderHead();
        if (!quiet) notify(`已保存（第 ${state.transcript.version} 版）`, 'success');
        if (focused && document.contains(focused)) focused.focus();
        return true;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.status === 412) {
          await fetchTranscript();
          const clean = await reconcileDrafts();
          renderSegments();
          renderHead();
          if (!clean) {
            renderSaveState();
            return false;
          }
          if (!drafts.size) return true;
          continue;
        }
        if (error.status === 423) lockLost(error);
        else notify(`${error.message}。您的修改仍保留在本页。`, 'error');
        renderSaveState();
        return false;
      }
    }
    renderSaveState();
    return false;
  })();
  try {
    return await state.saving;
  } finally {
    state.saving = null;
  }
}

async function structural(action) {
  if (!editable()) return;
  if (!(await saveDrafts({quiet: true}))) return;
  try {
    const response = await action();
    accept(response);
    drafts.moveTo(state.transcript.version);
    return true;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 412) {
      await fetchTranscript();
      renderSegments();
      notify('他人刚刚保存了新版本，已为您载入，请再试一次', 'error');
    } else if (error.status === 423) {
      lockLost(error);
    } else {
      notify(error.message, 'error');
    }
    return false;
  } finally {
    renderHead();
  }
}

/** Where in time the caret splits the segment: the start of the first word after it, else the playing position
 * if it is inside the segment, else in proportion to the characters. */
function splitTime(segment, text, caret) {
  const margin = Math.min(0.05, (segment.end - segment.start) / 4);
  const clamp = (t) => Math.min(segment.end - margin, Math.max(segment.start + margin, t));
  const words = (segment.words || []).filter((word) => typeof word.start === 'number');
  if (words.length && text === segment.text) {
    let position = 0;
    for (const word of words) {
      const needle = String(word.text || '').trim();
      const found = needle ? text.indexOf(needle, position) : -1;
      if (found < 0) continue;
      if (found >= caret) return clamp(word.start);
      position = found + needle.length;
    }
  }
  const now = player.currentTime;
  if (now > segment.start + margin && now < segment.end - margin) return now;
  return clamp(segment.start + (segment.end - segment.start) * (text.length ? caret / text.length : 0.5));
}

async function split() {
  const index = state.current;
  const input = list.input(index);
  if (!editable() || !input) return;
  const caret = input.selectionStart ?? input.value.length;
  const text = input.value;
  const segment = {...segments()[index]};
  const at = splitTime(segment, text, caret);
  const done = await structural(() => api.post(url(`/segments/${index}/split`),
    {at, text_before: text.slice(0, caret).trimEnd(), text_after: text.slice(caret).trimStart()},
    {ifMatch: state.etag}));
  if (!done) return;
  renderSegments();
  const next = list.input(index + 1);
  if (next) {
    next.focus();
    next.setSelectionRange(0, 0);
    focusSegment(index + 1, {seek: false});
  }
  notify(`已在 ${clockTenths(at)} 处拆分`, 'success');
}

async function merge() {
  const index = state.current;
  if (!editable() || index + 1 >= segments().length) return;
  const joinAt = textOf(index).length;
  const done = await structural(() => api.post(url('/segments/merge'), {indexes: [index, index + 1]},
    {ifMatch: state.etag}));
  if (!done) return;
  renderSegments();
  const input = list.input(index);
  if (input) {
    input.focus();
    input.setSelectionRange(joinAt, joinAt);
  }
  notify('已与下一段合并', 'success');
}

// --- speakers --------------------------------------------------------------------------------------------------------

async function chooseSpeaker(index) {
  if (!editable()) return;
  const labels = new Set(Object.keys(state.transcript.speakers || {}));
  for (const segment of segments()) if (segment.speaker) labels.add(segment.speaker);
  const current = speakerOf(index) || '';
  const select = h('select', {id: 'speaker-choice'},
    [...labels].sort().map((label) => h('option', {value: label, text: speakerName(label), selected: label === current})),
    h('option', {value: '', text: '（不标注）', selected: !current}),
    h('option', {value: '__new', text: '新说话人…'}));
  const name = h('input', {type: 'text', id: 'speaker-name', maxlength: '128', autocomplete: 'off'});
  const person = h('input', {type: 'search', id: 'speaker-person', list: 'speaker-persons', autocomplete: 'off'});
  const options = h('datalist', {id: 'speaker-persons'});
  person.addEventListener('input', async () => {
    const text = person.value.trim();
    if (!text || /（#\d+）$/.test(text)) return;
    const {data} = await api.get(`/api/v1/persons${query({q: text, per_page: 8})}`);
    replace(options, data.items.map((item) => {
      state.persons.set(item.id, item);
      return h('option', {value: `${item.name}（#${item.id}）`});
    }));
  });
  const fresh = h('fieldset', {class: 'stack', hidden: true},
    h('legend', {text: '新说话人：填写姓名，或关联人物档案'}),
    h('div', {class: 'field'}, h('label', {for: 'speaker-name', text: '姓名（自由填写）'}), name),
    h('div', {class: 'field'}, h('label', {for: 'speaker-person', text: '或关联人物档案（输入姓名查找）'}), person, options));
  select.addEventListener('change', () => { fresh.hidden = select.value !== '__new'; });
  const answer = await dialog({
    title: `第 ${index + 1} 段（${clock(segments()[index].start)}）的说话人`,
    body: [h('div', {class: 'field'}, h('label', {for: 'speaker-choice', text: '说话人'}), select), fresh],
    buttons: [{value: 'cancel', label: '取消'}, {value: 'ok', label: '确定', primary: true}],
  });
  if (answer !== 'ok') return;
  let label = select.value;
  if (label === '__new') {
    const personMatch = /（#(\d+)）$/.exec(person.value.trim());
    const target = personMatch ? {person_id: Number(personMatch[1])} : name.value.trim() ? {name: name.value.trim()} : null;
    if (!target) {
      notify('请填写姓名或选择人物档案', 'error');
      return;
    }
    let n = labels.size + 1;
    while (labels.has(`SPEAKER_${n}`)) n += 1;
    label = `SPEAKER_${n}`;
    try {
      const response = await api.put(url('/speakers'), {...(state.transcript.speakers || {}), [label]: target},
        {ifMatch: state.etag});
      const keep = drafts.version === state.transcript.version;
      accept(response);
      if (keep) drafts.moveTo(state.transcript.version);
      await loadPersons();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      notify(error.message, 'error');
      return;
    }
  }
  edited(index, 'speaker', label || null);
  list.update(index, {speaker: speakerName(label || null)});
  renderHead();
}

// --- workflow ----------------------------------------------------------------------------------------------------

async function transition(action, body) {
  try {
    accept(await api.post(url(`/${action}`), body, {ifMatch: state.etag}));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 412) await fetchTranscript();
    notify(error.message, 'error');
    renderHead();
    return false;
  }
  drafts.moveTo(state.transcript.version);
  if (action !== 'return') state.claim = null;
  list.setEditable(editable());
  renderHead();
  return true;
}

async function submitForReview() {
  if (!(await saveDrafts({quiet: true}))) return;
  if (await transition('review')) notify('已提交审核，认领已结束', 'success');
}

async function approve() {
  const answer = await dialog({
    title: '通过此转写稿？', body: [h('p', {text: '通过后转写稿为只读，可随人物档案公开（限制片段除外）。'})],
    buttons: [{value: 'cancel', label: '取消'}, {value: 'approve', label: '确认通过', primary: true}],
  });
  if (answer === 'approve' && await transition('approve')) notify('已审定通过', 'success');
}

async function returnWithComment() {
  const comment = h('textarea', {id: 'return-comment', rows: '4', maxlength: '4000', required: true});
  const answer = await dialog({
    title: '退回此转写稿',
    body: [h('div', {class: 'field'}, h('label', {for: 'return-comment', text: '退回意见（必填，编辑会收到通知）'}), comment)],
    buttons: [{value: 'cancel', label: '取消'}, {value: 'return', label: '确认退回', primary: true}],
  });
  if (answer !== 'return') return;
  if (!comment.value.trim()) {
    notify('退回时必须填写意见', 'error');
    return;
  }
  if (await transition('return', {comment: comment.value.trim()})) notify('已退回，编辑会收到您的意见', 'success');
}

// --- revisions ---------------------------------------------------------------------------------------------------

const FIELD_NAMES = {text: '文本', speaker: '说话人', start: '开始时间', end: '结束时间', flagged: '待核标记'};

/** The server's revision summary ("split 3", "bulk save 2 segments") in the editor's words. */
function summaryOf(revision) {
  const text = revision.summary || '';
  const numbered = (n) => Number(n) + 1;
  let match;
  if (text === 'machine transcription') return '机器转写';
  if ((match = /^bulk save (\d+) segments?$/.exec(text))) return `保存 ${match[1]} 段`;
  if ((match = /^edit segment (\d+)$/.exec(text))) return `修改第 ${numbered(match[1])} 段`;
  if ((match = /^split (\d+)$/.exec(text))) return `拆分第 ${numbered(match[1])} 段`;
  if ((match = /^merge (\d+)-(\d+)$/.exec(text))) return `合并第 ${numbered(match[1])}–${numbered(match[2])} 段`;
  if ((match = /^revert to (\d+)$/.exec(text))) return `恢复到第 ${match[1]} 版`;
  return text;
}

function diffView(diff) {
  if (!diff.segments.length) return h('p', {class: 'muted', text: '两个版本的文本相同'});
  const kinds = {added: '新增', removed: '删除', changed: '修改'};
  return h('ol', {class: 'diff'}, diff.segments.map((change) => {
    const segment = change.after || change.before || {};
    const text = change.text_ops && change.text_ops.length
      ? h('p', {class: 'diff-text'}, change.text_ops.map((op) => {
        if (op.op === 'equal') return op.before;
        if (op.op === 'insert') return h('ins', {text: op.after});
        if (op.op === 'delete') return h('del', {text: op.before});
        return [h('del', {text: op.before}), h('ins', {text: op.after})];
      }))
      : h('p', {class: 'diff-text'}, change.before && change.type !== 'added' ? h('del', {text: change.before.text || ''}) : null,
        change.after && change.type !== 'removed' ? h('ins', {text: change.after.text || ''}) : null);
    return h('li', {class: `diff-${change.type}`},
      h('p', {class: 'small muted', text: `${kinds[change.type] || change.type} · ${clockTenths(segment.start)} – ${clockTenths(segment.end)}` +
        (change.fields && change.fields.length ? ` · ${change.fields.map((f) => FIELD_NAMES[f] || f).join('、')}` : '')}), text);
  }));
}

async function showRevisions() {
  const {data} = await api.get(url(`/revisions${query({per_page: 100})}`));
  const revisions = data.items;
  const options = (selected) => revisions.map((revision) => h('option', {value: String(revision.number),
    text: `第 ${revision.number} 版`, selected: revision.number === selected}));
  const from = h('select', {id: 'diff-from'}, options(revisions[1] ? revisions[1].number : revisions[0].number));
  const to = h('select', {id: 'diff-to'}, options(revisions[0].number));
  const output = h('div', {class: 'diff-output', 'aria-live': 'polite'});
  const compare = async () => {
    const {data: diff} = await api.get(url(`/diff${query({from: from.value, to: to.value})}`));
    replace(output, h('p', {class: 'small', text: `第 ${diff.from} 版 → 第 ${diff.to} 版：新增 ${diff.stats.added}、删除 ${diff.stats.removed}、修改 ${diff.stats.changed} 段`}),
      diffView(diff));
  };
  const table = h('table', {class: 'table'},
    h('thead', {}, h('tr', {}, ['版本', '作者', '时间', '说明', ''].map((title) => h('th', {scope: 'col', text: title})))),
    h('tbody', {}, revisions.map((revision) => h('tr', {},
      h('td', {text: `第 ${revision.number} 版`}),
      h('td', {text: revision.created_by ? userName(revision.created_by) : '机器转写'}),
      h('td', {text: dateTime(revision.created_at)}),
      h('td', {text: summaryOf(revision)}),
      h('td', {}, editable() && revision.number !== revisions[0].number
        ? h('button', {type: 'button', class: 'button small', text: `恢复到第 ${revision.number} 版`,
          onclick: (event) => revert(revision.number, event.target.closest('dialog'))}) : null)))));
  const compareButton = h('button', {type: 'button', class: 'button', text: '比较', onclick: () => compare()});
  const pending = dialog({
    title: '修订记录', className: 'wide',
    body: [h('div', {class: 'table-wrap'}, table),
      h('div', {class: 'filters'}, h('div', {class: 'field'}, h('label', {for: 'diff-from', text: '从'}), from),
        h('div', {class: 'field'}, h('label', {for: 'diff-to', text: '到'}), to), compareButton), output],
    buttons: [{value: 'cancel', label: '关闭'}],
  });
  if (revisions.length > 1) await compare();
  await pending;
}

async function revert(number, box) {
  if (drafts.size) {
    notify('有未保存的修改：请先保存或放弃后再恢复旧版本', 'error');
    return;
  }
  const done = await structural(() => api.post(url('/revert'), {revision: number}, {ifMatch: state.etag}));
  if (box) box.close();
  if (!done) return;
  renderSegments();
  notify(`已恢复到第 ${number} 版（作为新的第 ${state.transcript.version} 版保存）`, 'success');
}

// --- redactions ----------------------------------------------------------------------------------------------------

function parseTime(text) {
  const parts = String(text).trim().split(':').map(Number);
  if (!parts.length || parts.some((part) => !Number.isFinite(part))) return NaN;
  return parts.reduce((total, part) => total * 60 + part, 0);
}

async function loadRedactions() {
  if (!can(state.user, 'transcript.redact')) {
    $('#redactions-box').hidden = true;
    return;
  }
  const {data} = await api.get(url(`/redactions${query({per_page: 100})}`));
  state.redactions = data.items;
  renderRedactions();
}

function mark(edge) {
  state.marks[edge] = player.currentTime;
  notify(`限制片段${edge === 'start' ? '起点' : '终点'}：${clockTenths(player.currentTime)}`, 'info', {timeout: 2500});
  if (state.marks.start !== null && state.marks.end !== null) redact();
}

async function redact() {
  if (!can(state.user, 'transcript.redact')) return;
  const segment = segments()[state.current] || {start: 0, end: 0};
  const startValue = state.marks.start ?? segment.start;
  const endValue = state.marks.end ?? segment.end;
  const start = h('input', {type: 'text', id: 'redact-start', value: clockTenths(Math.min(startValue, endValue)), inputmode: 'decimal'});
  const end = h('input', {type: 'text', id: 'redact-end', value: clockTenths(Math.max(startValue, endValue)), inputmode: 'decimal'});
  const reason = h('select', {id: 'redact-reason'},
    Object.entries(REDACTION_REASONS).map(([value, label]) => h('option', {value, text: label})));
  const note = h('textarea', {id: 'redact-note', rows: '2', maxlength: '2000'});
  const answer = await dialog({
    title: '标记限制公开的片段',
    body: [h('p', {class: 'small', text: '该时间段的文字不出现在公开的转写稿中，公开的音频在此处静音；档案原件不受影响。'}),
      h('div', {class: 'filters'},
        h('div', {class: 'field'}, h('label', {for: 'redact-start', text: '起点（时:分:秒）'}), start),
        h('div', {class: 'field'}, h('label', {for: 'redact-end', text: '终点（时:分:秒）'}), end),
        h('div', {class: 'field'}, h('label', {for: 'redact-reason', text: '原因'}), reason)),
      h('div', {class: 'field'}, h('label', {for: 'redact-note', text: '说明（可选）'}), note)],
    buttons: [{value: 'cancel', label: '取消'}, {value: 'ok', label: '标记', primary: true}],
  });
  state.marks = {start: null, end: null};
  if (answer !== 'ok') return;
  const body = {start: parseTime(start.value), end: parseTime(end.value), reason: reason.value, note: note.value};
  if (!Number.isFinite(body.start) || !Number.isFinite(body.end)) {
    notify('时间格式应为 时:分:秒，例如 00:01:23.5', 'error');
    return;
  }
  try {
    await api.post(url('/redactions'), body);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    notify(error.message, 'error');
    return;
  }
  await loadRedactions();
  renderSegments();
  notify('已标记限制片段', 'success');
}

// --- the player and the keyboard -----------------------------------------------------------------------------------

function syncActive(follow) {
  const index = segmentAt(segments(), player.currentTime);
  list.setActive(index, {follow: follow && player.playing});
}

function renderTime() {
  $('#time').textContent = `${clockTenths(player.currentTime)} / ${clock(player.duration || state.transcript.duration)}`;
}

function setSpeed(rate) {
  const applied = player.setRate(rate);
  $('#speed').value = String(applied);
}

function bindPlayer() {
  player.addEventListener('time', () => {
    renderTime();
    syncActive(true);
  });
  player.addEventListener('state', () => {
    $('#btn-play').setAttribute('aria-pressed', player.playing ? 'true' : 'false');
    $('#speed').value = String(player.rate);
  });
  player.addEventListener('unavailable', (event) => notify(event.detail, 'error'));
  player.addEventListener('nowaveform', () => {
    $('#waveform').replaceChildren(h('p', {class: 'muted small', text: '没有波形数据（资料仍在处理，或没有音轨）'}));
  });
  $('#btn-play').addEventListener('click', () => player.toggle());
  $('#btn-back').addEventListener('click', () => player.skip(-SKIP_SECONDS));
  $('#btn-forward').addEventListener('click', () => player.skip(SKIP_SECONDS));
  $('#speed').addEventListener('change', (event) => setSpeed(event.target.value));
  for (const button of document.querySelectorAll('[data-speed]')) {
    button.addEventListener('click', () => setSpeed(button.dataset.speed));
  }
}

function toggleSheet() {
  const sheet = $('#shortcuts');
  sheet.hidden = !sheet.hidden;
  sheet.parentElement.classList.toggle('sheet-hidden', sheet.hidden);
  $('#btn-keys').setAttribute('aria-expanded', sheet.hidden ? 'false' : 'true');
}

const ALT_KEYS = {
  KeyK: () => player.toggle(),
  KeyJ: () => player.skip(-SKIP_SECONDS),
  KeyL: () => player.skip(SKIP_SECONDS),
  Minus: () => setSpeed(player.stepRate(-1)),
  Equal: () => setSpeed(player.stepRate(1)),
  Digit1: () => setSpeed(0.75),
  Digit2: () => setSpeed(1),
  Digit3: () => setSpeed(1.25),
  ArrowUp: () => moveFocus(-1),
  ArrowDown: () => moveFocus(1),
  Enter: () => split(),
  NumpadEnter: () => split(),
  KeyM: () => merge(),
  BracketLeft: () => mark('start'),
  BracketRight: () => mark('end'),
  Slash: () => toggleSheet(),
};

function onKey(event) {
  if (event.defaultPrevented || dialogOpen()) return;
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.code === 'KeyS') {
    event.preventDefault();
    if (editable()) saveDrafts();
    return;
  }
  if (event.key === 'Escape' && !event.isComposing && !event.altKey && !event.ctrlKey) {
    event.preventDefault();
    player.toggle();
    return;
  }
  if (event.altKey && !event.ctrlKey && !event.metaKey && ALT_KEYS[event.code]) {
    event.preventDefault();
    ALT_KEYS[event.code]();
  }
}

function bindPage() {
  document.addEventListener('keydown', onKey, true);
  $('#btn-save').addEventListener('click', () => saveDrafts());
  $('#btn-split').addEventListener('click', () => split());
  $('#btn-merge').addEventListener('click', () => merge());
  $('#btn-redact').addEventListener('click', () => redact());
  $('#btn-review').addEventListener('click', () => submitForReview());
  $('#btn-approve').addEventListener('click', () => approve());
  $('#btn-return').addEventListener('click', () => returnWithComment());
  $('#btn-revisions').addEventListener('click', () => showRevisions());
  $('#btn-keys').addEventListener('click', () => toggleSheet());
  let toLogin = false;
  window.addEventListener('beforeunload', (event) => {
    if (!drafts.size) return;
    drafts.persist();
    if (!toLogin) event.preventDefault(); // closing the tab would lose them; the login page brings them back
  });
  window.addEventListener('liufang:session-lost', () => {
    toLogin = true;
    drafts.persist();
  });
  const player_ = $('#player');
  const sticky = () => document.documentElement.style.setProperty('--sticky', `${player_.offsetHeight + 8}px`);
  new ResizeObserver(sticky).observe(player_);
}

// --- start ---------------------------------------------------------------------------------------------------------

async function main() {
  // The transcript is asked for at once (the page preloads it), beside the user: neither answer needs the other.
  const transcriptRead = fetchTranscript();
  state.user = await startPage();
  bindPage();
  bindPlayer();
  await transcriptRead;
  performance.mark('liufang:transcript-read');
  const material = api.get(`/api/v1/materials/${state.transcript.material_id}`).then(({data}) => {
    state.material = data;
  });
  const peaks = player.prefetch(state.transcript.material_id);
  const claimed = mayEdit() && ['machine', 'in_review'].includes(state.transcript.status) ? claim(false) : null;
  const persons = loadPersons();
  await reconcileDrafts();
  await material;
  const playerReady = player.load(state.material, state.transcript.duration, peaks).then(renderTime);
  // The segments go on screen while the claim is answered; they become editable once it is ours.
  performance.mark('liufang:rendering');
  renderHead();
  renderSegments();
  await Promise.all([claimed, persons]);
  renderHead();
  if (Object.values(state.transcript.speakers || {}).some((target) => target.person_id)) {
    segments().forEach((segment) => list.update(segment.index, {speaker: speakerName(speakerOf(segment.index))}));
  }
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))); // on screen, editable
  performance.mark('liufang:interactive');
  document.body.dataset.ready = 'true';
  renewClaim();
  await Promise.all([playerReady, loadRedactions()]);
}

main();

