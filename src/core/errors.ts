// Coded errors: thrown only for the unexpected or for misuse; expected outcomes are values, not exceptions.

export class FairwayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A caller passed a value outside its contract; the message names the field and the value. */
export class InvalidArgumentError extends FairwayError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    expectation: string,
  ) {
    super('ERR_INVALID_ARGUMENT', `${field} must be ${expectation}, got ${describe(value)}`);
  }
}

/** A configuration value is invalid; `path` is the dotted path inside the config document. */
export class ConfigError extends FairwayError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super('ERR_CONFIG', path === '' ? message : `${path}: ${message}`);
  }
}

/** An operation was attempted on something already closed. */
export class ClosedError extends FairwayError {
  constructor(what: string) {
    super('ERR_CLOSED', `${what} is closed`);
  }
}

/** Short, safe rendering of an arbitrary value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `array(${value.length})`;
  return typeof value;
}
