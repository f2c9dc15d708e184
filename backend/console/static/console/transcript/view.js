// The segment list: one row per segment — its times (a button that seeks), its speaker, why it was flagged, and
// its text as a textarea whose accessible name begins with the start time (HH:MM:SS). Low-confidence words are
// shaded by a layer behind the transparent textarea, laid out exactly like it. Rows are cheap (cloned from one
// prototype, off-screen ones skipped by content-visibility), so 1,500 segments render at once.

import {clock, clockTenths, h} from '../dom.js';
import {wordRanges} from './model.js';

export const LOW = 0.5;
export const UNSURE = 0.75;
const FLAG_REASONS = {
  low_avg_logprob: '识别置信度低', high_no_speech_prob: '可能没有人声', high_compression_ratio: '可能重复（循环）',
};
const REMOVED_REASONS = {hallucination: '已删除疑似幻觉', repetition: '已折叠重复'};

export function flagReasons(segment) {
  const meta = segment.meta || {};
  const reasons = (meta.flags || []).map((flag) => FLAG_REASONS[flag.reason] || flag.reason);
  return [...new Set(reasons)];
}

function prototypeRow() {
  return h('li', {class: 'seg'},
    h('div', {class: 'seg-meta'},
      h('button', {type: 'button', class: 'seg-time'}, h('span', {class: 'visually-hidden', text: '跳到 '}), h('span')),
      h('button', {type: 'button', class: 'seg-speaker'}),
      h('span', {class: 'seg-state'})),
    h('div', {class: 'seg-body'},
      h('div', {class: 'seg-text'},
        h('textarea', {class: 'seg-input', rows: '1', spellcheck: 'false'}))));
}

export class SegmentList {
  constructor(list, handlers) {
    this.list = list;
    this.handlers = handlers;
    this.rows = [];
    this.segments = [];
    this.active = -1;
    this.prototype = prototypeRow();
    this.shadeQueue = [];
    list.addEventListener('input', (event) => this.forward('onInput', event));
    list.addEventListener('compositionstart', (event) => this.forward('onComposition', event));
    list.addEventListener('focusin', (event) => this.forward('onFocus', event));
    list.addEventListener('pointerdown', (event) => this.forward('onPointer', event));
    list.addEventListener('click', (event) => {
      const button = event.target.closest('button');
      if (!button) return;
      const index = this.indexOf(button);
      if (button.classList.contains('seg-time')) this.handlers.onSeek(index);
      else if (button.classList.contains('seg-speaker')) this.handlers.onSpeaker(index);
      else if (button.dataset.restore !== undefined) this.handlers.onRestore(index, Number(button.dataset.restore));
    });
  }

  forward(name, event) {
    const input = event.target.closest('.seg-input');
    if (input && this.handlers[name]) this.handlers[name](this.indexOf(input), input, event);
  }

  indexOf(element) {
    return Number(element.closest('.seg').dataset.index);
  }

  /** Build every row. ``text(index)`` and ``speaker(index)`` give what to show (a draft or the server's). */
  render(segments, {text, speaker, speakerName, editable, dirty, redacted}) {
    this.segments = segments;
    const fragment = document.createDocumentFragment();
    const rows = new Array(segments.length);
    for (let i = 0; i < segments.length; i += 1) {
      const row = this.prototype.cloneNode(true);
      this.fill(row, segments[i], {text: text(i), speaker: speakerName(speaker(i)), editable, dirty: dirty(i),
        redacted: redacted(segments[i])});
      rows[i] = row;
      fragment.append(row);
    }
    this.rows = rows;
    this.list.replaceChildren(fragment);
    this.active = -1;
    this.shadeLater();
  }

  fill(row, segment, {text, speaker, editable, dirty, redacted}) {
    const index = segment.index;
    row.dataset.index = String(index);
    row.id = `seg-${index}`;
    const [meta, body] = row.children;
    const [time, speakerButton, state] = meta.children;
    time.lastChild.textContent = `${clockTenths(segment.start)} – ${clockTenths(segment.end)}`;
    speakerButton.textContent = speaker;
    speakerButton.setAttribute('aria-label', `第 ${index + 1} 段说话人：${speaker}`);
    speakerButton.disabled = !editable;
    state.textContent = dirty ? '未保存' : '';
    row.classList.toggle('dirty', dirty);
    row.classList.toggle('flagged', Boolean(segment.flagged));
    row.classList.toggle('redacted', redacted);
    const input = body.querySelector('.seg-input');
    input.value = text;
    input.setAttribute('aria-label', `${clock(segment.start)} 至 ${clock(segment.end)}`);
    input.readOnly = !editable;
    const notes = this.notes(segment, redacted);
    if (notes) body.append(notes);
  }

  notes(segment, redacted) {
    const reasons = segment.flagged ? flagReasons(segment) : [];
    const removed = (segment.meta && segment.meta.removed) || [];
    if (!reasons.length && !removed.length && !redacted) return null;
    const box = h('p', {class: 'seg-notes small'});
    if (segment.flagged) box.append(h('span', {class: 'badge flag', text: `待核：${reasons.join('、') || '请仔细听'}`}));
    if (redacted) box.append(h('span', {class: 'badge redaction', text: '限制公开'}));
    removed.forEach((item, position) => {
      box.append(h('span', {class: 'removed', text: `${REMOVED_REASONS[item.reason] || '已清理'}：「${item.text}」`}),
        h('button', {type: 'button', class: 'button small', 'data-restore': String(position),
          'aria-label': `恢复第 ${segment.index + 1} 段被清理的文字`, text: '恢复'}));
    });
    return box;
  }

  row(index) {
    return this.rows[index] || null;
  }

  input(index) {
    const row = this.rows[index];
    return row ? row.querySelector('.seg-input') : null;
  }

  update(index, {text, speaker, editable, dirty}) {
    const row = this.rows[index];
    if (!row) return;
    if (text !== undefined) {
      const input = row.querySelector('.seg-input');
      if (input.value !== text) input.value = text;
      this.shade(index);
    }
    if (speaker !== undefined) {
      const button = row.querySelector('.seg-speaker');
      button.textContent = speaker;
      button.setAttribute('aria-label', `第 ${index + 1} 段说话人：${speaker}`);
    }
    if (editable !== undefined) {
      row.querySelector('.seg-input').readOnly = !editable;
      row.querySelector('.seg-speaker').disabled = !editable;
    }
    if (dirty !== undefined) {
      row.classList.toggle('dirty', dirty);
      row.querySelector('.seg-state').textContent = dirty ? '未保存' : '';
    }
  }

  setEditable(editable) {
    for (const row of this.rows) {
      row.querySelector('.seg-input').readOnly = !editable;
      row.querySelector('.seg-speaker').disabled = !editable;
    }
  }

  /** Highlight the segment being played; keep it in view while playing. */
  setActive(index, {follow}) {
    if (index === this.active) return;
    const previous = this.rows[this.active];
    if (previous) {
      previous.classList.remove('playing');
      previous.removeAttribute('aria-current');
    }
    this.active = index;
    const row = this.rows[index];
    if (!row) return;
    row.classList.add('playing');
    row.setAttribute('aria-current', 'true');
    if (follow) row.scrollIntoView({block: 'nearest'});
  }

  /** The shading of low-confidence words of one row, from words[].probability matched against its text. */
  shade(index) {
    const row = this.rows[index];
    const segment = this.segments[index];
    if (!row || !segment) return;
    const box = row.querySelector('.seg-text');
    const input = box.querySelector('.seg-input');
    let layer = box.querySelector('.seg-shade');
    const ranges = wordRanges(input.value, segment.words).filter((range) =>
      typeof range.probability === 'number' && range.probability < UNSURE);
    if (!ranges.length) {
      if (layer) layer.remove();
      return;
    }
    if (!layer) {
      layer = h('div', {class: 'seg-shade', 'aria-hidden': 'true'});
      box.prepend(layer);
    }
    const parts = [];
    let position = 0;
    const text = input.value;
    for (const range of ranges) {
      if (range.from > position) parts.push(text.slice(position, range.from));
      parts.push(h('mark', {class: range.probability < LOW ? 'word-low' : 'word-unsure',
        text: text.slice(range.from, range.to)}));
      position = range.to;
    }
    parts.push(`${text.slice(position)}\u200b`);
    layer.replaceChildren(...parts);
  }

  /** Shade one row before the next frame (once, however many keys were typed since). */
  shadeSoon(index) {
    this.shadePending = this.shadePending || new Set();
    if (!this.shadePending.size) {
      requestAnimationFrame(() => {
        for (const pending of this.shadePending) this.shade(pending);
        this.shadePending.clear();
      });
    }
    this.shadePending.add(index);
  }

  /** Shade rows a few at a time after the first paint, so the page is interactive at once. */
  shadeLater() {
    const pending = this.segments.map((segment) => segment.index).filter((index) =>
      (this.segments[index].words || []).some((word) => typeof word.probability === 'number' && word.probability < UNSURE));
    const generation = (this.generation = (this.generation || 0) + 1);
    const step = (deadline) => {
      if (generation !== this.generation) return;
      let budget = deadline.didTimeout ? 12 : Infinity; // overdue: a few rows, then yield to the editor again
      while (pending.length && budget > 0 && (deadline.didTimeout || deadline.timeRemaining() > 2)) {
        this.shade(pending.shift());
        budget -= 1;
      }
      if (pending.length) requestIdleCallback(step, {timeout: 500});
    };
    if (pending.length) requestIdleCallback(step, {timeout: 500});
  }
}

/** The index of the segment playing at ``seconds`` (the last one starting at or before it), or -1. */
export function segmentAt(segments, seconds) {
  let low = 0;
  let high = segments.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (segments[middle].start <= seconds + 0.001) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  if (found >= 0 && seconds > segments[found].end + 0.25 && found + 1 < segments.length) return found;
  return found;
}
