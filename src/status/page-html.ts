// The status page's HTML shell and stylesheet: static markup whose tables and charts the page script
// (page/app.ts) fills from /status.json and the /status/events stream. Nothing is fetched from the internet:
// the script and the charting library (uPlot) are served by Fairway itself under /status/assets/.

const STYLE = `
:root { --bg: #f6f7f9; --card: #fff; --ink: #1c2430; --muted: #667085; --line: #e3e7ed; --accent: #2f6fdd;
  --ok: #1f9d55; --warn: #d97706; --bad: #d64545; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font-size: 14px; }
header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; background: #16202e; color: #fff; flex-wrap: wrap; }
header h1 { font-size: 18px; margin: 0; font-weight: 600; }
header .meta { color: #b8c2d0; font-size: 13px; }
header .spacer { flex: 1; }
#conn { padding: 2px 10px; border-radius: 10px; font-size: 12px; background: #475467; }
#conn.live { background: var(--ok); } #conn.paused { background: var(--warn); } #conn.down { background: var(--bad); }
button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid #98a2b3; background: #fff; cursor: pointer; }
main { padding: 16px 20px 40px; display: grid; gap: 16px; grid-template-columns: repeat(12, 1fr); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; grid-column: span 12; min-width: 0; }
section.half { grid-column: span 6; } section.third { grid-column: span 4; }
@media (max-width: 1100px) { section.half, section.third { grid-column: span 12; } }
section h2 { font-size: 15px; margin: 0 0 10px; font-weight: 600; }
section h2 small { color: var(--muted); font-weight: 400; margin-left: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .label { color: var(--muted); font-size: 12px; } .card .value { font-size: 24px; font-weight: 600; margin-top: 2px; }
.card .sub { color: var(--muted); font-size: 12px; margin-top: 2px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; } th { color: var(--muted); font-weight: 500; font-size: 12px; }
td.name { text-align: left; max-width: 260px; overflow: hidden; text-overflow: ellipsis; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: 12px; color: #fff; }
.badge.open { background: var(--ok); } .badge.ceiling { background: var(--bad); } .badge.higher-band { background: var(--warn); }
.badge.stale { background: var(--bad); } .badge.fresh { background: var(--ok); }
.bar { position: relative; height: 8px; background: #eef1f5; border-radius: 4px; min-width: 80px; }
.bar > span { position: absolute; left: 0; top: 0; bottom: 0; background: var(--accent); border-radius: 4px; }
.bar > i { position: absolute; top: -3px; bottom: -3px; width: 2px; background: var(--ink); }
.pos { color: var(--bad); } .neg { color: var(--accent); }
.empty { color: var(--muted); text-align: center; }
.chart { min-height: 200px; } .legend-note { color: var(--muted); font-size: 12px; margin-top: 4px; }
dl.config { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 12px; }
dl.config dt { color: var(--muted); } dl.config dd { margin: 0; font-family: ui-monospace, monospace; font-size: 13px; }
#error { display: none; background: #fdecec; color: var(--bad); padding: 8px 20px; }
`;

/** The page; `title` is shown in the header (e.g. the pool's name). */
export function statusPageHtml(title = 'Fairway'): string {
  const esc = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc} status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/status/assets/uPlot.min.css">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>${esc} status</h1>
  <span class="meta">version <span id="version">-</span> · up <span id="uptime">-</span> · snapshot <span id="seq">-</span> · <span id="clock">-</span></span>
  <span class="spacer"></span>
  <span id="conn">connecting</span>
  <button id="pause" type="button">Pause</button>
</header>
<div id="error"></div>
<main>
  <section>
    <div class="cards">
      <div class="card"><div class="label">Pool saturation</div><div class="value" id="sat-value">-</div><div class="sub"><span id="sat-detector">-</span>, <span id="sat-stale">-</span> stale endpoints</div></div>
      <div class="card"><div class="label">Queued</div><div class="value" id="total-queued">-</div><div class="sub"><span id="total-queued-bytes">-</span></div></div>
      <div class="card"><div class="label">In flight</div><div class="value" id="total-inflight">-</div><div class="sub"><span id="total-flows">-</span> live flows</div></div>
      <div class="card"><div class="label">Dispatched / s</div><div class="value" id="total-dispatched">-</div><div class="sub">routed <span id="total-routed">-</span>/s</div></div>
      <div class="card"><div class="label">Shed / s</div><div class="value" id="total-shed">-</div><div class="sub">last <span class="rate-window">-</span> s average</div></div>
      <div class="card"><div class="label">Fairness (Jain)</div><div class="value" id="jain">-</div><div class="sub"><span id="active-tenants">-</span> active tenants</div></div>
    </div>
  </section>
  <section>
    <h2>Priority bands <small>highest first; a band is held when saturation reaches its ceiling, or a higher band is held</small></h2>
    <table id="bands"><thead><tr><th>band</th><th>priority</th><th>queued</th><th>bytes</th><th>flows</th><th>oldest wait</th><th>dispatched/s</th><th>ceiling</th><th>gate</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="third"><h2>Saturation and fairness</h2><div class="chart" id="chart-saturation"></div></section>
  <section class="third"><h2>Dispatches and queue</h2><div class="chart" id="chart-dispatch"></div></section>
  <section class="third"><h2>Shed and evicted per second <small>by reason</small></h2><div class="chart" id="chart-shed"></div></section>
  <section class="half">
    <h2>Top tenants by service <small>tokens/s over ~<span class="decay">-</span> s; fair share = weight / active weights</small></h2>
    <table id="served"><thead><tr><th>tenant</th><th>weight</th><th>tokens/s</th><th>share</th><th>fair share</th><th></th><th>distance</th><th>queued</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="half">
    <h2>Top tenants by queue</h2>
    <table id="queued"><thead><tr><th>tenant</th><th>priority</th><th>queued</th><th>in flight</th><th>weight</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="half">
    <h2>Shed <small>answered without routing, last <span class="outcome-window">-</span> s, by drop reason</small></h2>
    <table id="shed"><thead><tr><th>reason</th><th>requests</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="half">
    <h2>Evicted <small>taken out of a queue (or, as in-flight:, back from a model server), last <span class="outcome-window">-</span> s, by reason</small></h2>
    <table id="evicted"><thead><tr><th>reason</th><th>requests</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Endpoints <small><span id="endpoints-count">-</span></small></h2>
    <table id="endpoints"><thead><tr><th>endpoint</th><th>KV cache</th><th></th><th>waiting</th><th>running</th><th>Fairway in flight</th><th>saturation</th><th>scrape age</th><th>metrics</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Configuration</h2>
    <dl class="config" id="config"></dl>
    <table id="config-bands"><thead><tr><th>band</th><th>priority</th><th>fairness</th><th>ordering</th><th>max requests</th><th>max bytes</th><th>TTL</th><th>ceiling</th><th>overflow</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script src="/status/assets/uPlot.iife.min.js"></script>
<script type="module" src="/status/assets/app.js"></script>
</body>
</html>
`;
}
