// Public surface of src/loadgen: scenario traffic against an OpenAI-compatible endpoint, and its reports.
export { type TrafficClass, makePrompt, nextGapMs } from './traffic.js';
export { type RequestRecord, type LoadOptions, runLoad } from './load-generator.js';
export { type ClassSummary, summarize, renderTable } from './report.js';
