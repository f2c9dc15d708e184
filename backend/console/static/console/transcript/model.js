// The transcript page's unsaved edits: what the editor changed, segment by segment, against the version they read,
// kept in sessionStorage until the server accepts a save. When someone else saved in between (412), rebase() moves
// the edits onto the new version: an edit of a segment nobody else touched goes along as it is; a segment both
// changed is a conflict the editor decides, with both texts side by side.

import {clearDraft, loadDraft, saveDraft} from '../drafts.js';

export const EDITABLE = ['text', 'speaker'];
const TIME_TOLERANCE = 0.001;

function sameTimes(a, b) {
  return Math.abs(a.start - b.start) < TIME_TOLERANCE && Math.abs(a.end - b.end) < TIME_TOLERANCE;
}

function value(segment, field) {
  const raw = segment[field];
  return raw === undefined || raw === null ? (field === 'text' ? '' : null) : raw;
}

export class Drafts {
  constructor(transcriptId) {
    this.key = `transcript.${transcriptId}`;
    this.version = null;
    this.edits = new Map(); // index → {start, end, base: {text, speaker}, text?, speaker?}
    this.stored = true;
  }

  /** The stored drafts of this transcript, if any: {version, edits: [...]}. */
  restore() {
    const saved = loadDraft(this.key);
    if (!saved || !Array.isArray(saved.edits)) return null;
    return saved;
  }

  persist() {
    if (!this.edits.size) {
      clearDraft(this.key);
      this.stored = true;
      return true;
    }
    const edits = [...this.edits].map(([index, edit]) => ({index, ...edit}));
    this.stored = saveDraft(this.key, {version: this.version, edits, saved_at: Date.now()});
    return this.stored;
  }

  get size() {
    return this.edits.size;
  }

  has(index) {
    return this.edits.has(index);
  }

  get(index) {
    return this.edits.get(index);
  }

  /** Store soon (once per burst of keys, before the next frame): sessionStorage writes are synchronous. */
  persistSoon() {
    if (this.pending) return true;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      this.persist();
    });
    return this.stored;
  }

  /** Record a change of ``field`` of the segment at ``index`` (``segment``: as the server has it); ``soon``: store
   * it at the end of this task rather than at once. */
  set(index, segment, field, newValue, {soon = false} = {}) {
    let edit = this.edits.get(index);
    if (!edit) {
      edit = {start: segment.start, end: segment.end, base: {text: value(segment, 'text'), speaker: value(segment, 'speaker')}};
    }
    if (newValue === edit.base[field]) delete edit[field];
    else edit[field] = newValue;
    if (EDITABLE.some((name) => name in edit)) this.edits.set(index, edit);
    else this.edits.delete(index);
    return soon ? this.persistSoon() : this.persist();
  }

  /** What a bulk save sends: [{index, text?, speaker?}]. */
  payload() {
    return [...this.edits].map(([index, edit]) => {
      const item = {index};
      for (const field of EDITABLE) if (field in edit) item[field] = edit[field];
      return item;
    });
  }

  /** The server accepted our change (or nothing of ours was touched): edits stay, now based on ``version``. */
  moveTo(version) {
    this.version = version;
    this.persist();
  }

  replace(edits, version) {
    this.edits = edits;
    this.version = version;
    this.persist();
  }

  clear(version) {
    this.edits.clear();
    this.version = version;
    this.persist();
  }
}

function locate(edit, index, segments) {
  const atIndex = segments[index];
  if (atIndex && sameTimes(atIndex, edit)) return atIndex;
  const sameTime = segments.find((segment) => sameTimes(segment, edit));
  if (sameTime) return sameTime;
  const overlapping = segments.filter((segment) => segment.start < edit.end && segment.end > edit.start);
  return overlapping.length === 1 ? overlapping[0] : null;
}

/**
 * Move ``edits`` (from Drafts, or a stored draft's list) onto ``segments`` of a newer version.
 * Returns {edits: Map (rebased, conflicts left out), conflicts: [{index, field, mine, theirs, base, start, end}],
 * lost: [edits whose segment is gone]}.
 */
export function rebase(edits, segments) {
  const rebased = new Map();
  const conflicts = [];
  const lost = [];
  for (const [index, edit] of edits) {
    const target = locate(edit, index, segments);
    if (!target) {
      const overlapping = segments.filter((segment) => segment.start < edit.end && segment.end > edit.start);
      lost.push({...edit, index, theirs: overlapping.map((segment) => segment.text).join(''),
        target: overlapping.length ? overlapping[0].index : null});
      continue;
    }
    const next = {start: target.start, end: target.end,
      base: {text: value(target, 'text'), speaker: value(target, 'speaker')}};
    for (const field of EDITABLE) {
      if (!(field in edit)) continue;
      const theirs = value(target, field);
      if (theirs === edit.base[field] || theirs === edit[field] || field === 'speaker') {
        // Untouched by the others (or they wrote the same): ours goes along. A speaker label is ours to set.
        if (edit[field] !== theirs) next[field] = edit[field];
      } else {
        conflicts.push({index: target.index, field, mine: edit[field], theirs, base: edit.base[field],
          start: target.start, end: target.end});
      }
    }
    if (EDITABLE.some((name) => name in next)) rebased.set(target.index, next);
  }
  return {edits: rebased, conflicts, lost};
}

/** Where in ``text`` each word of ``words`` is: [{from, to, probability}] (words not found are left out). */
export function wordRanges(text, words) {
  const ranges = [];
  let position = 0;
  for (const word of words || []) {
    const needle = String(word.text || '').trim();
    if (!needle) continue;
    const found = text.indexOf(needle, position);
    if (found < 0 || found - position > 12) continue;
    ranges.push({from: found, to: found + needle.length, probability: word.probability, start: word.start});
    position = found + needle.length;
  }
  return ranges;
}
