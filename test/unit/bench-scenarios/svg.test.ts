import { describe, expect, it } from 'vitest';
import { cdfPoints, escapeXml, niceTicks, renderChart } from '../../../bench/scenarios/svg.js';

describe('scenario SVG writer', () => {
  it('renders panels, axis titles, tick labels and a legend entry per series name', () => {
    const svg = renderChart({
      title: 'Served <tokens>',
      xLabel: 'time (s)',
      yLabel: 'tokens / s',
      panels: [
        { title: 'fairway', series: [{ name: 'gold', points: [[0, 0], [1, 10], [2, 20]] }, { name: 'bronze', points: [[0, 0], [2, 5]] }] },
        { title: 'go-defaults', series: [{ name: 'gold', points: [[0, 1], [2, 2]] }] },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Served &lt;tokens&gt;');
    expect(svg).toContain('>fairway<');
    expect(svg).toContain('>go-defaults<');
    expect(svg).toContain('>time (s)<');
    expect(svg.match(/<path /g)?.length).toBe(3);
    // One legend entry per distinct series name, same colour in every panel.
    expect(svg.match(/>gold</g)?.length).toBe(1);
    expect(svg.match(/>bronze</g)?.length).toBe(1);
    expect(svg).not.toContain('NaN');
  });

  it('log axes label powers of ten and drop non-positive x values', () => {
    const svg = renderChart({ title: 't', xLabel: 'x', yLabel: 'y', xLog: true, yMax: 1, panels: [{ title: 'p', series: [{ name: 's', points: cdfPoints([0, 5, 50, 500]), step: true }] }] });
    expect(svg).toContain('>1<');
    expect(svg).toContain('>1k<');
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('Infinity');
  });

  it('helpers: nice ticks, CDF points, escaping', () => {
    expect(niceTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(cdfPoints([1, 2, 3, 4])).toEqual([[1, 0.25], [2, 0.5], [3, 0.75], [4, 1], [4, 1]]);
    expect(escapeXml('a&b"')).toBe('a&amp;b&quot;');
  });
});
