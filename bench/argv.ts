// The benchmark scripts' one command-line reader: `--name=value` options (flags such as `--quick` are read with
// `process.argv.includes`).

/** The value of the first `--name=value` on the command line, or undefined when there is none. */
export function argValue(name: string, argv: readonly string[] = process.argv): string | undefined {
  const prefix = `--${name}=`;
  return argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}
