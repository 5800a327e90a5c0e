// Lint rules, including the import boundaries of docs/architecture.md: each layer lists what it may not import.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LAYERS = [
  'core', 'config', 'datalayer', 'saturation', 'flowcontrol', 'scheduler',
  'gateway', 'extproc', 'proxy', 'observability', 'server', 'cli', 'simulator', 'loadgen',
  'kubernetes', 'sharedstate',
  'status',
];

/** What each layer may import from our own code (besides itself). */
const ALLOWED = {
  core: [],
  config: ['core'],
  datalayer: ['core'],
  flowcontrol: ['core'],
  saturation: ['core', 'datalayer', 'flowcontrol'],
  scheduler: ['core', 'datalayer'],
  gateway: ['core', 'flowcontrol', 'scheduler', 'datalayer'],
  extproc: ['core', 'gateway'],
  proxy: ['core', 'gateway'],
  observability: ['core', 'flowcontrol', 'scheduler', 'datalayer', 'saturation', 'gateway', 'sharedstate'],
  sharedstate: ['core', 'flowcontrol', 'datalayer'],
  simulator: ['core'],
  loadgen: ['core'],
  // Adapters over @kubernetes/client-node: they implement datalayer's EndpointSource; clients come from server.
  kubernetes: ['core', 'datalayer'],
  status: ['core', 'config', 'flowcontrol', 'gateway'],
  server: LAYERS.filter((l) => l !== 'cli' && l !== 'simulator' && l !== 'loadgen'),
  cli: LAYERS,
};

const boundaryBlocks = Object.entries(ALLOWED).map(([layer, allowed]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: LAYERS.filter((l) => l !== layer && !allowed.includes(l)).map((l) => ({
        group: [`**/${l}`, `**/${l}/**`],
        message: `src/${layer} may not import src/${l} (see docs/architecture.md, import direction).`,
      })),
    }],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  ...boundaryBlocks,
  {
    // Command-line entry points and benchmarks write to the terminal by design.
    files: ['src/cli/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
