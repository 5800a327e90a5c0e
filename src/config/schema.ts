// The configuration document: one YAML file, every field defaulted, validated once into a frozen object.
// Plug-in parameters (saturation detector, scheduler profile) stay opaque here; their own modules validate them
// and report errors under the same dotted paths.
import { z } from 'zod';
import { ModelRewritesSchema } from './model-rewrites.js';

const port = z.number().int().min(0).max(65_535);
const positive = z.number().positive();
/** Node timers cannot wait longer than 2^31-1 ms; no TTL needs to. */
const duration = z.number().positive().max(2_147_483_647);
// `unlimited` in YAML; Infinity when built in code (or when a validated config is validated again).
const limit = z
  .union([z.number().positive(), z.literal('unlimited'), z.custom<number>((v) => v === Infinity, 'must be a number > 0 or "unlimited"')])
  .transform((v) => (v === 'unlimited' ? Infinity : v));
const priority = z.number().int().min(-1_000_000).max(1_000_000);
/** A concurrency or queue cap: a whole number >= 1, or `unlimited`. */
const cap = z
  .union([z.number().int().min(1), z.literal('unlimited'), z.custom<number>((v) => v === Infinity, 'must be an integer >= 1 or "unlimited"')])
  .transform((v) => (v === 'unlimited' ? Infinity : v));

const endpoint = z.strictObject({
  host: z.string().min(1),
  port: port.refine((p) => p > 0, 'must be > 0'),
  labels: z.record(z.string(), z.string()).optional(),
  engine: z.enum(['vllm', 'sglang', 'trtllm']).optional(),
  metricsPath: z.string().startsWith('/').optional(),
});

const band = z.strictObject({
  priority,
  name: z.string().min(1).optional(),
  fairness: z.string().optional(),
  ordering: z.string().optional(),
  maxRequests: limit.optional(),
  maxBytes: limit.optional(),
  ttlMs: duration.optional(),
  ceiling: positive.optional(),
  weight: positive.optional(),
  /** A full band evicts from the tenant holding the most of it (`fair-share`) or turns newcomers away. */
  overflow: z.enum(['fair-share', 'reject']).optional(),
  /** Dispatch at once whatever the saturation (overrides flowControl.passThrough for this band; not below 0). */
  passThrough: z.boolean().optional(),
});

const plugin = z.strictObject({ name: z.string(), params: z.record(z.string(), z.number()).optional() });

export const ConfigSchema = z.strictObject({
  pool: z
    .strictObject({
      endpoints: z.array(endpoint).default([]),
      /**
       * After this long with no endpoint answering (every connection refused, reset or not made in time, from scrapes
       * and the proxy), queued and new requests are answered 503 `pool-unreachable` instead of held. 0 turns it off,
       * and refusals then count toward `unresponsiveAfterMs` neither: a refusing pool is held to the TTL.
       */
      unreachableAfterMs: z.number().int().nonnegative().default(3_000),
      /**
       * Frozen pods: after this long with no endpoint answering, each either refusing as above (unless
       * `unreachableAfterMs` is 0) or accepting the connection and sending not one byte within the scrape timeout (a
       * `silent` scrape), queued and new requests are answered 503 `pool-unreachable` too, instead of held until their
       * TTL; 0 turns it off. A metrics page answered late (a `slow` scrape) is an answer.
       */
      unresponsiveAfterMs: z.number().int().nonnegative().default(10_000),
      metrics: z
        .strictObject({
          intervalMs: positive.default(50),
          /** Scrape timeout; never above stalenessMs (lowered to it, with a warning). @default stalenessMs */
          timeoutMs: positive.optional(),
          stalenessMs: positive.default(200),
          path: z.string().startsWith('/').default('/metrics'),
          engine: z.enum(['vllm', 'sglang', 'trtllm']).default('vllm'),
          /** `https` for model servers serving metrics over TLS. */
          scheme: z.enum(['http', 'https']).default('http'),
          tls: z
            .strictObject({
              /** PEM CA bundle to verify model servers with (Node's default CAs when absent). */
              caFile: z.string().min(1).optional(),
              /** Encrypt but do not verify (self-signed model servers). */
              insecureSkipVerify: z.boolean().default(false),
              /** Certificate name to verify when it differs from the endpoint address. */
              serverName: z.string().min(1).optional(),
            })
            .prefault({}),
          /** File holding a bearer token for secured model servers; re-read every minute (rotated tokens). */
          bearerTokenFile: z.string().min(1).optional(),
          /** Longest wait between attempts at a failing endpoint (backoff with jitter from intervalMs up). */
          maxBackoffMs: positive.default(1_000),
          /** A larger metrics page fails its scrape (reason too-large). */
          maxBodyBytes: positive.default(4 * 1024 * 1024),
          /** Where scrapes run: this thread, a worker thread, or auto (a worker once the pool reaches 64 endpoints). */
          scrapeThread: z.enum(['main', 'worker', 'auto']).default('auto'),
          /**
           * Added to the scrape worker thread's nice value (Linux only; elsewhere ignored), so the dispatch thread
           * wins a contended core; the process's background threads (V8's platform workers, libuv's threadpool) get
           * it too unless scrapeThread is main. 0 keeps them all at the process's priority.
           */
          workerNice: z.number().int().min(0).max(19).default(10),
          /**
           * Ask model servers for the metric families in use only (`name[]` query parameters, as Prometheus client
           * libraries filter): ~1.4 KB a scrape instead of ~40 KB. `auto`: for vllm, whose prometheus_client
           * exposition honours it (not sglang, whose multiprocess registry answers a filtered page empty); a server
           * that ignores it sends the whole page, one whose filtered page lacks a family in use is asked for the
           * whole page. `off`: always the whole page.
           */
          nameFilter: z.enum(['auto', 'on', 'off']).default('auto'),
          /** Scrapes in flight at once (default: a quarter of the pool, at least 64); due ones wait in due order. */
          maxInFlight: positive.optional(),
          /**
           * Opt-in: per endpoint, scrape every minIntervalMs while it queues or its KV cache is >= kvNearFull, and
           * stretch towards maxIntervalMs (capped at half of stalenessMs) while it is idle. Off by default: a busy
           * pool is near saturation most of the time, so it would double the scrape cost where it is highest.
           */
          adaptiveInterval: z
            .strictObject({
              enabled: z.boolean().default(false),
              minIntervalMs: positive.default(25),
              maxIntervalMs: positive.default(100),
              kvNearFull: z.number().gt(0).lte(1).default(0.8),
            })
            .prefault({}),
        })
        .prefault({})
        .refine((m) => m.intervalMs < m.stalenessMs, {
          message: 'intervalMs must be below stalenessMs, or every endpoint turns stale between two scrapes',
        })
        .refine((m) => !m.adaptiveInterval.enabled || (m.adaptiveInterval.minIntervalMs <= m.intervalMs && m.adaptiveInterval.maxIntervalMs >= m.intervalMs), {
          message: 'adaptiveInterval needs minIntervalMs <= intervalMs <= maxIntervalMs',
          path: ['adaptiveInterval'],
        }),
      /**
       * Multi-model pools: each endpoint's `/v1/models` is polled, and a request goes only to endpoints serving its
       * (rewritten) model; a model none serves is answered 404 `model_not_found`. Off: every endpoint serves all.
       */
      models: z
        .strictObject({
          discover: z.boolean().default(true),
          path: z.string().startsWith('/').default('/v1/models'),
          intervalMs: positive.default(10_000),
          timeoutMs: positive.default(2_000),
        })
        .prefault({}),
    })
    .prefault({}),
  /** InferenceObjective name -> priority. */
  objectives: z.record(z.string().min(1), priority).default({}),
  /** InferenceModelRewrite specs (model-name rewrites and weighted splits); see model-rewrites.ts. */
  modelRewrites: ModelRewritesSchema,
  /** Per tenant (fairness id): weight for weighted-fair sharing, and the highest priority it may claim. */
  tenants: z
    .record(
      z.string().min(1),
      z.strictObject({
        weight: positive.default(1),
        maxPriority: priority.optional(),
        /** This tenant's requests in flight, over the pool (every replica sharing state). */
        maxConcurrency: cap.optional(),
        /** This tenant's requests queued, over the pool. */
        maxQueued: cap.optional(),
      }),
    )
    .default({}),
  /**
   * Concurrency and queue caps enforced over the whole pool: one process alone, or every replica sharing state
   * (`sharedState`), each holding a part of each cap (see README, "Pool-wide limits").
   */
  limits: z
    .strictObject({
      maxConcurrency: cap.default(Infinity),
      maxQueued: cap.default(Infinity),
      /** Defaults for every tenant; `tenants.<id>` overrides them. */
      tenant: z.strictObject({ maxConcurrency: cap.default(Infinity), maxQueued: cap.default(Infinity) }).prefault({}),
    })
    .prefault({}),
  trust: z
    .strictObject({
      mode: z.enum(['trusted', 'strip']).default('trusted'),
      tenantHeader: z.string().min(1).toLowerCase().optional(),
      defaultPriorityCap: priority.optional(),
    })
    .prefault({}),
  flowControl: z
    .strictObject({
      defaultTtlMs: duration.default(60_000),
      /**
       * Scale from zero: while the pool has no endpoints at all, requests wait up to this long for one to appear
       * (then flow control as usual; the TTL still counts from arrival). Unset: 503 no-endpoints at once.
       */
      noEndpointRequestTtlMs: duration.optional(),
      maxQueuedRequests: limit.default(Infinity),
      maxQueuedBytes: limit.default(Infinity),
      maxFlows: positive.default(100_000),
      maxBands: positive.default(64),
      /**
       * Every band of priority >= 0 not saying otherwise dispatches at once, even when every endpoint is over its
       * thresholds (the Go EPP with flow control off); only sheddable work waits or is shed.
       */
      passThrough: z.boolean().default(false),
      bands: z
        .array(band)
        .default([])
        .refine((bands) => bands.every((b) => b.passThrough !== true || b.priority >= 0), {
          message: 'passThrough cannot be set on a sheddable band (priority < 0): sheddable work always waits or is shed',
        }),
      bandTemplate: band.omit({ priority: true, name: true, passThrough: true }).default({}),
      arbitration: plugin.default({ name: 'strict' }),
      usageLimit: plugin.default({ name: 'static' }),
      expectedOutputTokens: z.number().int().nonnegative().default(256),
      /** Headroom a tenant holding more than its share may not fill while another tenant has work (README). */
      tenantReserve: z.number().min(0).lt(1).default(0.02),
      /** Taking back dispatched sheddable requests when higher-priority work is blocked (see README). */
      inflightEviction: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** Requests below this priority may be evicted: sheddable work only by default. */
          belowPriority: priority.default(0),
          maxPerSecond: positive.default(100),
          burst: z.number().min(1).default(20),
          /** What eviction does to a response that has started: `end` it (error event / reset) or `spare` it. */
          startedResponses: z.enum(['end', 'spare']).default('end'),
        })
        .prefault({}),
    })
    .prefault({}),
  saturation: z
    .strictObject({
      detector: z.string().default('hybrid'),
      options: z.record(z.string(), z.unknown()).default({}),
    })
    .prefault({}),
  scheduler: z
    .strictObject({
      /** A scheduler profile (filters, scorers, picker); the default profile when absent. */
      profile: z.unknown().optional(),
      fallbackEndpoints: z.number().int().min(0).max(8).default(0),
      seed: z.number().int().optional(),
      /**
       * Prefix-cache affinity (the Go EPP's and llm-d's parameter names): prompt bytes per block, how deep each
       * prompt is hashed (the smaller of maxPrefixBlocksToMatch and maxPrefixTokensToMatch at 4 bytes per token
       * applies), and blocks remembered per server that reports no KV-cache geometry. Past the first
       * `denseBlocks` blocks a prompt gets a key for every `keyEvery`-th block only (and its last): fewer keys to
       * record, matched to within `keyEvery` blocks there (1: a key per block).
       */
      prefix: z
        .strictObject({
          blockSize: z.number().int().min(1).max(65_536).default(64),
          maxPrefixBlocksToMatch: z.number().int().min(1).max(1_048_576).default(8192),
          maxPrefixTokensToMatch: z.number().int().min(1).optional(),
          lruCapacityPerServer: z.number().int().min(1).max(1 << 30).default(31_250),
          denseBlocks: z.number().int().min(0).max(1_048_576).default(256),
          keyEvery: z.number().int().min(1).max(65_536).default(8),
        })
        .prefault({}),
    })
    .prefault({}),
  server: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      grpcPort: port.default(9002),
      healthPort: port.default(9003),
      metricsPort: port.default(9090),
      /** The standalone HTTP proxy; off unless a port is given. */
      proxyPort: port.optional(),
      /** Proxy mode: endpoints tried per request when connecting fails (nothing sent yet), best first. */
      proxyConnectAttempts: z.number().int().min(1).max(16).default(3),
      tls: z
        .strictObject({
          mode: z.enum(['none', 'self-signed', 'files']).default('none'),
          certFile: z.string().optional(),
          keyFile: z.string().optional(),
        })
        .prefault({})
        .refine((t) => t.mode !== 'files' || (t.certFile !== undefined && t.keyFile !== undefined), {
          message: 'mode "files" needs certFile and keyFile',
        }),
      shutdownGraceMs: z.number().nonnegative().default(30_000),
      maxBodyBytes: positive.default(16 * 1024 * 1024),
      /**
       * Envoy's ext_proc body modes (its `processing_mode`), for Envoys that do not announce them: a stream whose
       * first message carries `protocol_config` follows that instead. The request body must be FULL_DUPLEX_STREAMED
       * or BUFFERED (the others let the request go before Fairway has read it); see the README's "Envoy processing modes".
       */
      extProc: z
        .strictObject({
          requestBodyMode: z.enum(['FULL_DUPLEX_STREAMED', 'BUFFERED']).default('FULL_DUPLEX_STREAMED'),
          responseBodyMode: z.enum(['FULL_DUPLEX_STREAMED', 'STREAMED', 'BUFFERED', 'BUFFERED_PARTIAL', 'NONE']).default('FULL_DUPLEX_STREAMED'),
          /**
           * HTTP/2 flow-control window of each ext_proc stream, in bytes: what Envoy may send on a stream before Fairway
           * has read it (the connection's window is 16 times this). HTTP/2's default, 65,535, makes a long body wait on a
           * round trip per 32 KiB; see the README's "ext_proc transport".
           */
          http2WindowBytes: z.number().int().min(65_535).max(2 ** 31 - 1).default(1024 * 1024),
        })
        .prefault({}),
      /** Request headers beyond this are answered 431 `header-too-large` (both front ends). Envoy's default is 60 KiB. */
      maxHeaderBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
      retryAfterSeconds: z
        .strictObject({ contended: z.number().int().nonnegative().default(1), unavailable: z.number().int().nonnegative().default(5) })
        .prefault({}),
      /** The admin port (`metricsPort`): /metrics, /status, probes. */
      admin: z
        .strictObject({
          /** Bind address of the admin port alone; `server.host` when absent. */
          host: z.string().min(1).optional(),
          /** Bearer token for /metrics and /status (probes stay open); FAIRWAY_ADMIN_TOKEN overrides it. */
          token: z.string().min(1).optional(),
          /** Show tenants on /status and in metric labels as `t-<sha256 prefix>`, never by name. */
          hashTenantNames: z.boolean().default(false),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The operator's view on the admin port: /status, /status.json, /status/events, `fairway top`. */
  status: z
    .strictObject({
      topTenants: z.number().int().min(1).max(1_000).default(20),
      maxEndpoints: z.number().int().min(1).max(100_000).default(256),
      /** Between two snapshots pushed to the page. */
      intervalMs: z.number().int().min(50).max(60_000).default(250),
      historySeconds: z.number().int().min(10).max(86_400).default(180),
    })
    .prefault({}),
  /** Kubernetes mode (an InferencePool's endpoint picker): on when `poolName` is set; see docs/kubernetes.md. */
  kubernetes: z
    .strictObject({
      poolName: z.string().min(1).optional(),
      /** @default the NAMESPACE environment variable, else the pod's own namespace, else "default" */
      poolNamespace: z.string().min(1).optional(),
      poolGroup: z.enum(['inference.networking.k8s.io', 'inference.networking.x-k8s.io']).default('inference.networking.k8s.io'),
      /** A kubeconfig file; in-cluster service-account credentials when absent. */
      kubeconfig: z.string().min(1).optional(),
      /** Pod label naming the model server's engine (vllm | sglang | trtllm). */
      engineLabel: z.string().min(1).default('fairway.io/engine'),
      leaderElection: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** @default fairway-<poolName> */
          leaseName: z.string().min(1).optional(),
          leaseDurationMs: z.number().int().min(1_000).multipleOf(1_000).default(15_000),
          renewDeadlineMs: z.number().int().positive().default(10_000),
          retryPeriodMs: z.number().int().positive().default(2_000),
        })
        .prefault({})
        .refine((l) => l.leaseDurationMs > l.renewDeadlineMs && l.renewDeadlineMs > l.retryPeriodMs, {
          message: 'needs leaseDurationMs > renewDeadlineMs > retryPeriodMs',
        }),
    })
    .prefault({}),
  /**
   * Several replicas of one pool share fairness counters, in-flight counts, scrapes and pool-wide limits:
   * `local` shares nothing (one process; or, under `serve --workers N`, the workers of one host through their
   * primary); `redis` shares through a Redis server, Sentinel group or Cluster.
   */
  sharedState: z
    .strictObject({
      backend: z.enum(['local', 'redis']).default('local'),
      url: z.string().min(1).default('redis://127.0.0.1:6379'),
      /** Every key of the pool starts with it; the {hash tag} keeps them in one Redis Cluster slot. */
      keyPrefix: z
        .string()
        .regex(/\{[^{}]+\}/, 'must contain a {hash tag} so every key of the pool lives in one Redis Cluster slot')
        .default('{fairway}:'),
      syncIntervalMs: positive.max(10_000).default(20),
      /** This replica's id in the pool. @default host name and process id */
      replicaId: z.string().min(1).optional(),
      /** One replica (holding a lease) scrapes the pool and shares the scrapes; the others scrape only as a fallback. */
      shareScrapes: z.boolean().default(true),
    })
    .prefault({}),
  logging: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info') }).prefault({}),
  tracing: z
    .strictObject({
      exporter: z.enum(['none', 'console', 'otlp']).default('none'),
      otlpEndpoint: z.string().url().optional(),
      sampleRatio: z.number().min(0).max(1).default(1),
      serviceName: z.string().default('fairway'),
    })
    .prefault({}),
});

export type FairwayConfig = z.output<typeof ConfigSchema>;
export type FairwayConfigInput = z.input<typeof ConfigSchema>;
