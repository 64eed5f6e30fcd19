// Line charts in plain SVG for the console's overview: a few series over a time window, a y axis that grows
// to fit, no library (docs/adr/0017).
'use strict';

(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const WIDTH = 380;
  const HEIGHT = 150;
  const PAD = { left: 36, right: 8, top: 8, bottom: 20 };
  const MIN_SPAN_MS = 60000;

  function el(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // 0, 1, 2, 5, 10, 20, 50 …: the smallest of these at or above value (at least 1).
  function niceCeiling(value) {
    if (!(value > 1)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function formatNumber(value) {
    if (value >= 1e6) return (value / 1e6).toFixed(value >= 1e7 ? 0 : 1) + 'M';
    if (value >= 1e3) return (value / 1e3).toFixed(value >= 1e4 ? 0 : 1) + 'k';
    if (value === 0 || value >= 10 || Number.isInteger(value)) return String(Math.round(value));
    return value.toFixed(1);
  }

  // series: [{ name, className }]; windowSeconds: how much time the x axis shows.
  class LineChart {
    constructor(container, { series, windowSeconds }) {
      this.series = series;
      this.windowMs = windowSeconds * 1000;
      this.svg = el('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart-svg', role: 'img' });
      container.append(this.svg);
      this.points = []; // { time, values: [] }
      this.draw();
    }

    push(time, values) {
      this.points.push({ time, values });
      const oldest = time - this.windowMs;
      while (this.points.length > 2 && this.points[1].time <= oldest) this.points.shift();
      this.draw();
    }

    draw() {
      const svg = this.svg;
      while (svg.firstChild) svg.firstChild.remove();
      const plotWidth = WIDTH - PAD.left - PAD.right;
      const plotHeight = HEIGHT - PAD.top - PAD.bottom;
      const now = this.points.length ? this.points[this.points.length - 1].time : Date.now();
      // Until the window has filled, the x axis spans what there is (at least a minute), not an empty window.
      const first = this.points.length ? this.points[0].time : now;
      const span = Math.min(this.windowMs, Math.max(MIN_SPAN_MS, now - first));
      const start = now - span;
      let max = 0;
      for (const point of this.points) for (const value of point.values) if (value > max) max = value;
      const top = niceCeiling(max);
      const x = time => PAD.left + Math.max(0, (time - start) / span) * plotWidth;
      const y = value => PAD.top + plotHeight - (value / top) * plotHeight;

      for (const fraction of [0, 0.5, 1]) {
        const value = top * fraction;
        svg.append(el('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value), class: 'chart-grid' }));
        svg.append(el('text', { x: PAD.left - 6, y: y(value) + 4, class: 'chart-label', 'text-anchor': 'end' }, formatNumber(value)));
      }

      const seconds = Math.round(span / 1000);
      svg.append(el('text', { x: PAD.left, y: HEIGHT - 4, class: 'chart-label' }, seconds % 60 ? `${seconds} s ago` : `${seconds / 60} min ago`));
      svg.append(el('text', { x: WIDTH - PAD.right, y: HEIGHT - 4, class: 'chart-label', 'text-anchor': 'end' }, 'now'));

      this.series.forEach((series, index) => {
        const coordinates = this.points.map(p => `${x(p.time).toFixed(1)},${y(p.values[index] || 0).toFixed(1)}`);
        if (coordinates.length === 1) coordinates.push(`${(WIDTH - PAD.right).toFixed(1)},${y(this.points[0].values[index] || 0).toFixed(1)}`);
        if (coordinates.length) svg.append(el('polyline', { points: coordinates.join(' '), class: `chart-line ${series.className}` }));
      });

      const last = this.points[this.points.length - 1];
      svg.setAttribute('aria-label', this.series.map((s, i) => `${s.name}: ${last ? formatNumber(last.values[i] || 0) : 'no data yet'}`).join(', '));
    }
  }

  window.KirisameCharts = { LineChart, formatNumber };
})();
