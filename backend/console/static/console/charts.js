// Small SVG charts drawn here (no chart library): grouped columns for a monthly series and horizontal bars for
// counts by category or area. Colours come from the stylesheet (classes), labels are SVG text nodes, each bar has
// a <title> with its exact value, and every chart is an image with a name and a description for screen readers
// (the pages put the same numbers in a table beside it).

const SVG = 'http://www.w3.org/2000/svg';
let serial = 0;

function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A round upper bound and step for an axis reaching `value` (about four gridlines). */
export function niceScale(value) {
  if (!(value > 0)) return {max: 1, step: 0.25};
  const rough = value / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((candidate) => candidate >= rough);
  return {max: Math.ceil(value / step - 1e-9) * step, step};
}

function number(value, decimals = 2) {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(decimals)));
}

/** Enough decimals to tell the ticks of an axis with this step apart (0.25 → 2, 0.005 → 3). */
function decimalsFor(step) {
  return (String(Number(step.toPrecision(6))).split('.')[1] || '').length;
}

function frame(width, height, title, description) {
  serial += 1;
  const titleId = `chart-title-${serial}`;
  const descId = `chart-desc-${serial}`;
  return s('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart-svg', role: 'img',
    'aria-labelledby': titleId, 'aria-describedby': descId, preserveAspectRatio: 'xMidYMid meet'},
  s('title', {id: titleId}, title), s('desc', {id: descId}, description));
}

/**
 * Grouped columns: `categories` (x labels, e.g. months), `series` [{label, values}] drawn side by side in each
 * group (classes series-0…), `unit` for the tooltips. Returns {svg, legend}: the legend is plain HTML.
 */
export function groupedColumns({categories, series, title, description, unit = '', minimum = 0,
  shortLabel = (c) => c}) {
  const width = 960;
  const height = 300;
  const margin = {top: 16, right: 12, bottom: 42, left: 48};
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const highest = Math.max(minimum, ...series.flatMap((item) => item.values));
  const {max, step} = niceScale(highest);
  const decimals = decimalsFor(step);
  const svg = frame(width, height, title, description);
  const y = (value) => margin.top + plotHeight - (value / max) * plotHeight;

  const grid = s('g', {class: 'chart-grid-lines', 'aria-hidden': 'true'});
  for (let tick = 0; tick <= max + 1e-9; tick += step) {
    grid.append(s('line', {x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick)}),
      s('text', {x: margin.left - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'chart-tick'},
        number(tick, decimals)));
  }
  svg.append(grid);

  const groupWidth = plotWidth / Math.max(1, categories.length);
  const barWidth = Math.max(1, (groupWidth * 0.8) / Math.max(1, series.length));
  const every = Math.ceil(categories.length / 12);
  const bars = s('g', {class: 'chart-bars'});
  categories.forEach((category, index) => {
    const left = margin.left + index * groupWidth + groupWidth * 0.1;
    series.forEach((item, position) => {
      const value = item.values[index] || 0;
      const top = y(value);
      bars.append(s('rect', {x: left + position * barWidth, y: top, width: Math.max(0.5, barWidth - 1),
        height: Math.max(0, margin.top + plotHeight - top), class: `bar series-${position}`},
      s('title', {}, `${category} ${item.label}：${number(value, 3)}${unit}`)));
    });
    if (index % every === 0) {
      bars.append(s('text', {x: margin.left + (index + 0.5) * groupWidth, y: height - margin.bottom + 16,
        'text-anchor': 'middle', class: 'chart-label', 'aria-hidden': 'true'}, shortLabel(category, index)));
    }
  });
  svg.append(bars, s('line', {x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0), class: 'chart-axis',
    'aria-hidden': 'true'}));

  const legend = document.createElement('ul');
  legend.className = 'chart-legend';
  series.forEach((item, position) => {
    const entry = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch series-${position}`;
    entry.append(swatch, document.createTextNode(item.label));
    legend.append(entry);
  });
  return {svg, legend};
}

/** Horizontal bars: `items` [{label, value}], longest first as given. */
export function horizontalBars({items, title, description, unit = ''}) {
  const width = 560;
  const rowHeight = 30;
  const labelWidth = 130;
  const valueWidth = 56;
  const height = Math.max(1, items.length) * rowHeight + 12;
  const highest = Math.max(1, ...items.map((item) => item.value));
  const svg = frame(width, height, title, description);
  const room = width - labelWidth - valueWidth;
  items.forEach((item, index) => {
    const top = 6 + index * rowHeight;
    const length = (item.value / highest) * room;
    svg.append(s('g', {class: 'chart-row'},
      s('text', {x: labelWidth - 8, y: top + rowHeight / 2 + 5, 'text-anchor': 'end', class: 'chart-label'},
        item.label),
      s('rect', {x: labelWidth, y: top + 4, width: Math.max(1, length), height: rowHeight - 10,
        class: `bar series-${item.series || 0}`}, s('title', {}, `${item.label}：${number(item.value)}${unit}`)),
      s('text', {x: labelWidth + length + 6, y: top + rowHeight / 2 + 5, class: 'chart-value'},
        `${number(item.value)}${unit}`)));
  });
  if (!items.length) {
    svg.append(s('text', {x: width / 2, y: height / 2 + 4, 'text-anchor': 'middle', class: 'chart-label'}, '暂无数据'));
  }
  return svg;
}
