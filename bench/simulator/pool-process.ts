// Child process of the simulator benchmark: runs a simulated pool so its CPU time is measured apart from the
// load generator. Protocol: argv[2] = JSON pool options; sends {ports}; answers 'cpu' with process.cpuUsage(), the
// engine steps run so far and the event-loop delay p99 since the last sample;
// on 'stop' closes the pool and exits.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startSimulatedPool, type SimulatedPoolOptions } from '../../src/simulator/index.js';

const options = JSON.parse(process.argv[2] ?? '{}') as SimulatedPoolOptions;
const pool = await startSimulatedPool(options);
let steps = 0;
for (const sim of pool.simulators) {
  sim.engine.observe((e) => {
    if (e.kind === 'step') steps++;
  });
}
process.send?.({ ports: pool.servers.map((s) => s.port) });
// Event-loop delay shows whether the process keeps real-time pace (a late loop delays every step and token).
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
process.on('message', (msg: unknown) => {
  if (msg === 'cpu') {
    process.send?.({ cpu: process.cpuUsage(), steps, loopDelayP99Ms: loopDelay.percentile(99) / 1e6 });
    loopDelay.reset();
  } else if (msg === 'stop') {
    void pool.close().then(() => process.exit(0));
  }
});
